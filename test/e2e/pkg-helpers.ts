// Helpers for the package-manager e2e tests: run the real CLI as an unprivileged user
// against a temp VENV_HOME, build small .deb packages, and look at the host afterwards.
// Run as that user, or as root (then venv runs as $VENV_TEST_USER, default venvtest,
// through runuser, and tests that must change the host's packages can do so).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processesWith } from '../helpers/leftovers.js';

export const VENV = join(dirname(fileURLToPath(import.meta.url)), '../../../bin/venv');
export const isRoot = process.getuid?.() === 0;
const testUser = process.env.VENV_TEST_USER ?? 'venvtest';

function userIds(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${testUser}:`));
  if (!line) throw new Error(`running as root, but the test user ${testUser} does not exist`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The command line that runs a program as the test user (the current user unless root). */
function userCommand(file: string, args: string[], env: NodeJS.ProcessEnv): [string, string[]] {
  if (!isRoot) return [file, args];
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return ['runuser', ['-u', testUser, '--', 'env', ...assignments, file, ...args]];
}

/** Runs a program as the test user to completion. */
export function asUser(file: string, args: string[], env: NodeJS.ProcessEnv = {}, timeout = 300_000): Result {
  const [cmd, argv] = userCommand(file, args, env);
  const result = spawnSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', timeout, cwd: '/tmp' });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a program as the test user; resolves with its exit status. */
export function startAsUser(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number | null> {
  const [cmd, argv] = userCommand(file, args, env);
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: 'ignore', cwd: '/tmp' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

/** A temp dir owned by the test user. */
export function userTempDir(prefix: string): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  giveToUser(dir);
  return dir;
}

/** Hands a path (recursively) to the test user when running as root. */
export function giveToUser(path: string): void {
  const ids = userIds();
  if (!ids) return;
  chownSync(path, ids.uid, ids.gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) giveToUser(join(path, entry));
}

export class TestHome {
  readonly dir = userTempDir('venv-pkgtest-');
  readonly home = join(this.dir, 'home');

  venv(...args: string[]): Result {
    return asUser(VENV, args, { VENV_HOME: this.home });
  }

  /** `venv run NAME -- sh -c SCRIPT`; fails the test unless it exits 0. */
  sh(name: string, script: string): string {
    const result = this.venv('run', name, '--', 'sh', '-c', script);
    if (result.status !== 0) {
      throw new Error(`in env ${name}, exit ${result.status}: ${script}\n${result.stdout}\n${result.stderr}`);
    }
    return result.stdout;
  }

  /** `venv list --json`'s entry for the env. */
  summary(name: string): { inUse: boolean; pkgdb: string } | undefined {
    const envs = JSON.parse(this.venv('list', '--json').stdout) as { name: string; inUse: boolean; pkgdb: string }[];
    return envs.find((env) => env.name === name);
  }

  upper(name: string, path = '/'): string {
    return join(this.home, 'envs', name, 'upper', path);
  }

  /** Processes left running that belong to this home (a FUSE daemon, a keeper). */
  leftovers(): string[] {
    return processesWith(this.home).map(({ pid, command }) => `${pid} ${command}`);
  }

  /** Removes every env (from inside a user namespace, as venv rm does) and the temp dir. */
  cleanUp(): void {
    for (const name of existsSync(join(this.home, 'envs')) ? readdirSync(join(this.home, 'envs')) : []) {
      this.venv('rm', '--force', name);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** For after(): fails if a process outlived the envs, having cleaned up either way. */
  finish(): void {
    const left = this.leftovers();
    this.cleanUp();
    assert.deepEqual(left, [], 'no process may outlive the env');
  }
}

export interface DebSpec {
  name: string;
  version: string;
  depends?: string;
  /** Path inside the package -> content; paths under /etc become conffiles. */
  files: Record<string, string>;
  /** Maintainer scripts: postinst, prerm, postrm, ... (sh bodies). */
  scripts?: Record<string, string>;
}

/** Builds NAME_VERSION_all.deb in dir with dpkg-deb, owned by root:root, and returns its path. */
export function buildDeb(dir: string, spec: DebSpec): string {
  const root = mkdtempSync(join(dir, `${spec.name}-`));
  mkdirSync(join(root, 'DEBIAN'));
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    'Architecture: all',
    'Maintainer: venv tests <venv@example.invalid>',
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    `Description: ${spec.name}, built by the venv tests`,
    '',
  ];
  writeFileSync(join(root, 'DEBIAN/control'), control.join('\n'));
  const conffiles = Object.keys(spec.files).filter((p) => p.startsWith('/etc/'));
  if (conffiles.length > 0) writeFileSync(join(root, 'DEBIAN/conffiles'), `${conffiles.join('\n')}\n`);
  for (const [path, content] of Object.entries(spec.files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    chmodSync(join(root, path), path.includes('/bin/') ? 0o755 : 0o644);
  }
  for (const [script, body] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(join(root, 'DEBIAN', script), `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(join(root, 'DEBIAN', script), 0o755);
  }
  const deb = join(dir, `${spec.name}_${spec.version}_all.deb`);
  const result = spawnSync('dpkg-deb', ['--root-owner-group', '--build', root, deb], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`dpkg-deb failed: ${result.stderr}`);
  rmSync(root, { recursive: true, force: true });
  giveToUser(deb);
  return deb;
}

/** The host files (of those given) that mention any of the words: the traces an install leaves. */
export function hostMentions(paths: string[], words: string[]): string[] {
  return paths.filter((path) => {
    try {
      const text = readFileSync(path, 'utf8');
      return words.some((word) => text.includes(word));
    } catch {
      return false;
    }
  });
}

/** True when the program exists on this host. */
export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** dpkg -s on the host: whether the host's database knows the package. */
export function hostKnowsPackage(name: string): boolean {
  return spawnSync('dpkg-query', ['-s', name], { encoding: 'utf8' }).status === 0;
}

/** Makes a cluster on a port of its own, starts it, asks it for 1 over its socket in /run, stops it. */
export function postgresScript(): string {
  const port = 20000 + (process.pid % 10000);
  return `set -e
version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_createcluster "$version" venvtest -p ${port} -- --auth=trust >/dev/null
pg_ctlcluster "$version" venvtest start
runuser -u postgres -- psql -p ${port} -Atc 'select 1'
pg_ctlcluster "$version" venvtest stop
echo stopped`;
}
