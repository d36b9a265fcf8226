// Installing without root from `npm pack`'s tarball, as the README says: `npm install -g
// --prefix DIR` as an ordinary user, offline (the dependencies are bundled in the tarball),
// with npm's install hook building the native helpers from the shipped C sources where a
// compiler is, and the install still succeeding, venv still running (on fuse-overlayfs,
// through nsenter and flock), where none is.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';

const e2e = e2eSetup('npmpack');
const checkout = fileURLToPath(new URL('../../../', import.meta.url));
const { version } = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { version: string };
const HELPERS = ['venv-enter', 'venv-lock', 'venv-opaque', 'venv-rootview'];

function found(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' });
  return result.status === 0 ? realpathSync(result.stdout.trim()) : undefined;
}

const npmCli = found('npm');
const compiles =
  found('cc') !== undefined && spawnSync('pkg-config', ['--exists', 'fuse3']).status === 0 ? true : false;

describe(
  'npm pack, then npm install -g --prefix as an ordinary user',
  { skip: skipReason || (npmCli ? false : 'npm is not installed') },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'venv-npmpack-'));
    // npm's cache and logs of this test only: nothing of the user's, and nothing cached
    // from the registry to install from (--offline: what the tarball holds must do).
    const npmEnv = {
      ...process.env,
      HOME: dir,
      npm_config_cache: join(dir, 'npm-cache'),
      npm_config_update_notifier: 'false',
    };
    let tarball = '';
    after(() => rmSync(dir, { recursive: true, force: true }));

    const npm = (args: string[], env: NodeJS.ProcessEnv = npmEnv): SpawnSyncReturns<string> =>
      spawnSync(process.execPath, [npmCli as string, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });

    /** The installed venv, with VENV_BACKEND left to it (the suite's names one backend for the checkout's). */
    const installed = (prefix: string, args: string[]) => {
      const env: NodeJS.ProcessEnv = { ...process.env, VENV_HOME: e2e.home };
      delete env.VENV_BACKEND;
      return spawnSync(join(prefix, 'bin/venv'), args, { env, encoding: 'utf8', timeout: 60_000 });
    };

    const install = (prefix: string, env?: NodeJS.ProcessEnv) => {
      mkdirSync(prefix);
      const result = npm(['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], env);
      assert.equal(result.status, 0, `npm install: ${result.stderr}`);
      return join(prefix, 'lib/node_modules/venv');
    };

    /** `venv run` of a real env made by the installed venv: a system write kept in the env, not on the host. */
    const runsAnEnv = (prefix: string, name: string): string => {
      assert.equal(installed(prefix, ['--version']).stdout, `${version}\n`);
      const made = installed(prefix, ['create', name]);
      assert.equal(made.status, 0, made.stderr);
      const ran = installed(prefix, [
        'run',
        name,
        '--',
        'sh',
        '-c',
        `echo ${name} > /etc/venv-npmpack; cat /etc/venv-npmpack`,
      ]);
      assert.equal(ran.status, 0, ran.stderr);
      assert.equal(ran.stdout, `${name}\n`);
      assert.equal(existsSync('/etc/venv-npmpack'), false);
      const listed = JSON.parse(installed(prefix, ['list', '--json']).stdout) as { name: string; backend: string }[];
      const backend = listed.find((env) => env.name === name)?.backend ?? '';
      assert.equal(installed(prefix, ['rm', '-y', name]).status, 0);
      return backend;
    };

    before(() => {
      // --ignore-scripts: prepack would rebuild dist/ under the other test files running from it.
      const packed = npm(['pack', '--ignore-scripts', '--pack-destination', dir, checkout]);
      assert.equal(packed.status, 0, packed.stderr);
      tarball = join(dir, `venv-${version}.tgz`);
      assert.ok(existsSync(tarball), packed.stdout);
      const listing = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n');
      // The C sources and the hook that builds them ship; binaries of the packing machine do not.
      assert.ok(listing.includes('package/src/native/rootview/main.c'));
      assert.ok(listing.includes('package/scripts/build-native.mjs'));
      assert.ok(!listing.some((path) => path.startsWith('package/dist/native/')), 'no prebuilt helper');
      assert.ok(listing.includes('package/node_modules/commander/package.json'), 'dependencies bundled');
    });

    test(
      'with a compiler: the hook builds the native helpers, and venv runs an env',
      { skip: compiles ? false : 'needs cc, pkg-config and libfuse3-dev' },
      () => {
        const prefix = join(dir, 'with-cc');
        const pkg = install(prefix);
        for (const helper of HELPERS) accessSync(join(pkg, 'dist/native', helper), constants.X_OK);
        assert.ok(existsSync(join(prefix, 'share/man/man1/venv.1')), 'the man page is installed');
        const doctor = JSON.parse(installed(prefix, ['doctor', '--json']).stdout) as { backend?: { name: string } };
        assert.equal(runsAnEnv(prefix, 'packed'), doctor.backend?.name);
        assert.equal(doctor.backend?.name, 'overlay', 'venv-rootview built: the kernel overlay backend');
      },
    );

    test('without a compiler on PATH: the install succeeds, and venv runs on fuse-overlayfs', () => {
      // PATH holds only what npm's hook needs to start: sh and node; no cc, no gcc.
      const bin = join(dir, 'bin-without-cc');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync('/bin/sh', join(bin, 'sh'));
      const env = { ...npmEnv, PATH: bin, CC: '' };
      const prefix = join(dir, 'without-cc');
      const pkg = install(prefix, env);
      for (const helper of HELPERS) assert.equal(existsSync(join(pkg, 'dist/native', helper)), false, helper);
      assert.equal(runsAnEnv(prefix, 'plain'), 'fuse-overlayfs');
    });
  },
);
