#!/usr/bin/env node
// `npm test` after build and lint: the unit and end-to-end tests (compiled to dist/test)
// in one `node --test` run, so that one summary ("# pass N", "# fail N") ends the output.
// The end-to-end tests must run as an unprivileged user (rootless envs are the point): as
// root, the whole run drops to VENV_TEST_USER (default venvtest) through runuser.
//
//   node scripts/run-tests.mjs [FILE_OR_DIR...]      default: dist/test/unit dist/test/e2e
//   VENV_TEST_CONCURRENCY=N                          test files run at once (default 2: the machine has 2 cores)
//
// The end-to-end tests run once per rootless backend (VENV_BACKEND, see
// src/backends/backend.ts): "overlay" (the kernel's overlayfs over venv-rootview, where it
// was built) and "fuse-overlayfs". VENV_TEST_BACKENDS=overlay,fuse-overlayfs names them;
// by default, overlay only where dist/native/venv-rootview exists. CI names both, so that
// a view that failed to build fails the run instead of being skipped.
// Phases, for each backend: every test file but the real-root ones, N at a time on overlay
// and one at a time on fuse-overlayfs; last, as root itself, the real-root ones
// (test/e2e/root-*: the kernel's overlayfs), which skip when the runner is not root. As
// root it also mounts a small tmpfs for the full-disk tests (VENV_TEST_SMALL_FS; without it
// they skip).
// Why one file at a time on fuse-overlayfs: fuse-overlayfs 1.10 confuses a file created in
// the upper dir with one deleted there just before when the filesystem hands out the same
// inode number before the kernel has told the daemon to forget the old one: dpkg and
// useradd then fail with ENOENT. Other tests creating and deleting files at the same time
// make that likely (3 runs in 4 with shared-dirs beside pkg-dpkg), alone it did not happen
// in 12 runs. With this round's new test files beside them, the concurrency tests hit it
// too (a file one session wrote stayed ENOENT for the other for 10 s, 1 run in 4).
// docs/packages.md explains it for users. The kernel's overlayfs has no such bug: there
// the files run N at a time.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const targets = process.argv.slice(2);
if (targets.length === 0) targets.push('dist/test/unit/', 'dist/test/e2e/');
for (const target of targets) {
  if (!existsSync(new URL(target, `file://${root}`))) fail(`${target} does not exist: run "npm run build" first`);
}

/** The compiled test files under the targets, split into the two phases. */
function testFiles(paths) {
  const files = [];
  for (const path of paths) {
    const full = join(root, path);
    if (statSync(full).isDirectory()) files.push(...testFiles(readdirSync(full).map((name) => join(path, name))));
    else if (path.endsWith('.test.js')) files.push(path);
  }
  return files;
}
const files = testFiles(targets).sort();
// The real-root tests (the kernel's overlayfs): run as root, not as the test user; they
// skip themselves when the runner is not root.
const asRoot = files.filter((file) => /(^|\/)root-[^/]*\.test\.js$/.test(file));
const rootless = files.filter((file) => !asRoot.includes(file));

// Test files are independent (each has its own VENV_HOME), and mostly wait on processes.
const concurrency = process.env.VENV_TEST_CONCURRENCY ?? '2';
const nodeArgs = (filesOfPhase, filesAtOnce) => [
  process.execPath,
  '--test',
  '--test-reporter=tap',
  '--test-reporter-destination=stdout',
  `--test-concurrency=${filesAtOnce}`,
  // A file's whole run: the opt-in network tests (apt-get upgrade) take many minutes.
  `--test-timeout=${process.env.VENV_TEST_NETWORK === '1' ? 3_600_000 : 120_000}`,
  ...filesOfPhase,
];

// As root: the user the tests run as (the real-root phase excepted).
let testUser;
if (process.getuid?.() === 0) {
  const user = process.env.VENV_TEST_USER || 'venvtest';
  if (spawnSync('id', ['-u', user], { stdio: 'ignore' }).status !== 0) {
    fail(
      `running as root, but the test user "${user}" does not exist. The end-to-end tests run as an ` +
        `unprivileged user with subordinate ids. Create one:\n` +
        `  useradd --create-home ${user}\n` +
        `  usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}\n` +
        `  chmod 0666 /dev/fuse\n` +
        `or set VENV_TEST_USER to an existing one, or run .ci/run, which does all of it.`,
    );
  }
  const probe = spawnSync('runuser', ['-u', user, '--', 'test', '-r', `${root}/dist/test/e2e`], { stdio: 'ignore' });
  if (probe.status !== 0) {
    fail(
      `the test user "${user}" cannot read ${root}dist/test: make the checkout readable (chmod -R o+rX) and its parent directories searchable (chmod o+x)`,
    );
  }
  testUser = user;
}
const prefix = testUser ? ['runuser', '-u', testUser, '--'] : [];

// `npm test` exports root's npm settings (npm_config_cache=/root/.npm, ...): as the test
// user they would send an `npm install -g` inside an env to directories it cannot write.
const env = { ...process.env };
if (process.getuid?.() === 0) for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];

const viewBuilt = existsSync(join(root, 'dist/native/venv-rootview'));
const backends = (process.env.VENV_TEST_BACKENDS || (viewBuilt ? 'overlay,fuse-overlayfs' : 'fuse-overlayfs')).split(
  ',',
);
for (const backend of backends) {
  if (!['overlay', 'fuse-overlayfs'].includes(backend)) fail(`VENV_TEST_BACKENDS: unknown backend "${backend}"`);
  if (backend === 'overlay' && !viewBuilt)
    fail('VENV_TEST_BACKENDS names overlay, but dist/native/venv-rootview was not built (see npm run build)');
}
// The unit tests need no backend: they run with the first one only.
const withoutUnit = (list) => list.filter((file) => !/(^|\/)unit\//.test(file));
const phases = [
  ...backends.map((backend, i) => ({
    files: i === 0 ? rootless : withoutUnit(rootless),
    filesAtOnce: backend === 'fuse-overlayfs' ? '1' : concurrency,
    prefix,
    backend,
  })),
  // Real root always gets the kernel's overlayfs of / itself.
  { files: asRoot, filesAtOnce: '1', prefix: [], backend: undefined },
].filter((phase) => phase.files.length > 0);
const totals = { pass: 0, fail: 0, todo: 0, skipped: 0 };
let status = 0;
const smallFs = testUser ? mountSmallFs(testUser) : undefined;
if (smallFs) env.VENV_TEST_SMALL_FS = smallFs;
const hostile = testUser ? prepareHostileDirs(process.env.VENV_TEST_OTHER_USER || 'venvother') : undefined;
if (testUser) makeUserRuntimeDir(testUser);
if (hostile) Object.assign(env, hostile.env);
try {
  for (const phase of phases) {
    const command = [...phase.prefix, ...nodeArgs(phase.files, phase.filesAtOnce)];
    process.stderr.write(`running${phase.backend ? ` (VENV_BACKEND=${phase.backend})` : ''}: ${command.join(' ')}\n`);
    const phaseEnv = { ...env, VENV_BACKEND: phase.backend };
    if (!phase.backend) delete phaseEnv.VENV_BACKEND;
    const { out, code } = await runShowing(command, phaseEnv);
    for (const key of Object.keys(totals))
      totals[key] += Number(out.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0);
    status = Math.max(status, code);
  }
} finally {
  if (smallFs) unmountSmallFs(smallFs);
  if (hostile) spawnSync('rm', ['-rf', '--', hostile.dir]);
}
// One summary for all phases, last, where a reader of the log looks.
if (phases.length > 1)
  for (const [key, value] of Object.entries(totals)) process.stdout.write(`# all ${key} ${value}\n`);
process.exitCode = status;

/**
 * A 32 MiB tmpfs that the test user owns, for the tests of a full disk
 * (VENV_TEST_SMALL_FS; they skip without it). Only root can mount one.
 */
function mountSmallFs(user) {
  const dir = mkdtempSync('/tmp/venv-test-small-');
  chmodSync(dir, 0o755);
  const id = (flag) => spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim();
  const options = `size=32m,mode=0755,uid=${id('-u')},gid=${id('-g')}`;
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'venv-test-small', dir], { stdio: 'inherit' });
  if (mounted.status === 0) return dir;
  process.stderr.write('run-tests: cannot mount a small tmpfs: the full-disk tests will skip\n');
  rmdirSync(dir);
  return undefined;
}

/**
 * Layouts another local user could have made, which neither the test user nor root at
 * test time can make (the tests cannot sudo), for the VENV_HOME trust tests
 * (test/e2e/venv-home-trust.test.ts; they skip without them). Under one root-owned dir:
 *   shared/        0777, not sticky: anyone can replace what is in it
 *   sticky/        1777, as /tmp
 *   sticky/other   a VENV_HOME of the other user (0777), holding an env "planted" of theirs
 *   sticky/link    a symlink of the other user's to it
 */
function prepareHostileDirs(other) {
  if (spawnSync('id', ['-u', other], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write(`run-tests: no user "${other}" (.ci/run makes it): the VENV_HOME trust tests will skip\n`);
    return undefined;
  }
  const dir = mkdtempSync('/tmp/venv-test-hostile-');
  chmodSync(dir, 0o755);
  const sh = (script) => spawnSync('sh', ['-euc', script, 'sh', dir, other], { stdio: 'inherit' }).status === 0;
  const made = sh(`
    mkdir -m 0777 "$1/shared" && chmod 0777 "$1/shared"
    mkdir -m 1777 "$1/sticky" && chmod 1777 "$1/sticky"
    runuser -u "$2" -- sh -euc '
      umask 0
      mkdir -m 0777 "$1/other" "$1/other/envs" "$1/other/envs/planted"
      cd "$1/other/envs/planted"
      mkdir -m 0777 upper work merged run
      echo "auto 4" > run/mapping
      ln -s "$1/other" "$1/link"
    ' sh "$1/sticky"
  `);
  const meta = `${dir}/sticky/other/envs/planted/env.json`;
  if (made) {
    const record = { version: 1, name: 'planted', created: '2026-01-01T00:00:00Z', mapping: 'auto' };
    writeFileSync(meta, `${JSON.stringify(record)}\n`, { mode: 0o666 });
  }
  if (!made || spawnSync('chown', [other, meta]).status !== 0) {
    process.stderr.write('run-tests: cannot prepare the hostile layouts: the VENV_HOME trust tests will skip\n');
    spawnSync('rm', ['-rf', '--', dir]);
    return undefined;
  }
  return {
    dir,
    env: {
      VENV_TEST_SHARED_DIR: `${dir}/shared`,
      VENV_TEST_STICKY_DIR: `${dir}/sticky`,
      VENV_TEST_OTHER_HOME: `${dir}/sticky/other`,
      VENV_TEST_OTHER_LINK: `${dir}/sticky/link`,
    },
  };
}

/**
 * The test user's /run/user/UID, as a login (pam_systemd) makes it, for the test that it
 * is shared into an env (test/e2e/shared-dirs.test.ts; it skips without it). Left in
 * place: other runs may be using it, and /run is emptied at boot.
 */
function makeUserRuntimeDir(user) {
  const id = (flag) => spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim();
  const [uid, gid] = [id('-u'), id('-g')];
  const dir = `/run/user/${uid}`;
  if (!/^\d+$/.test(uid) || existsSync(dir)) return;
  const made = spawnSync('install', ['-d', '-m', '0700', '-o', uid, '-g', gid, dir], { stdio: 'inherit' });
  if (made.status !== 0) process.stderr.write(`run-tests: cannot make ${dir}: the test that it is shared will skip\n`);
}

function unmountSmallFs(dir) {
  spawnSync('umount', ['--lazy', dir], { stdio: 'inherit' });
  rmdirSync(dir);
}

/** Runs the command with its output shown as it comes, and kept for the summary. */
function runShowing(command, env) {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      out += chunk;
    });
    child.on('error', (error) => fail(`cannot run ${command[0]}: ${error.message}`));
    child.on('close', (code, signal) => resolve({ out, code: code ?? (signal ? 1 : 0) }));
  });
}

function fail(message) {
  process.stderr.write(`run-tests: ${message}\n`);
  process.exit(2);
}
