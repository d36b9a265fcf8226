// Builds venv's native helpers into dist/native when a C compiler is there:
//   venv-enter     enters a running env in one process (src/native/enter); needs cc only;
//   venv-lock      takes the session's flock(2) locks in one process (src/native/lock);
//                  needs cc only;
//   venv-opaque    reads overlayfs's opaque xattrs for commit and diff (src/native/opaque);
//                  needs cc only;
//   venv-publish   asks slirp4netns for a --net private env's published ports when it
//                  starts (src/native/publish); needs cc only;
//   venv-rootview  the read-only FUSE view of / under the kernel-overlay backend
//                  (src/native/rootview); needs pkg-config and libfuse3's headers too.
// Without what one needs it says so in one line and succeeds: venv still builds and runs,
// entering through nsenter, locking with flock(1), reading xattrs with tar, publishing
// ports through node, and on
// fuse-overlayfs. VENV_NATIVE_HELPERS=0 makes venv take those ways even where the helpers
// were built (the tests run both). With it, a compile error fails the
// build, so that CI catches it.
// `--install` is npm's install hook ("install" in package.json): in a package installed from
// `npm pack`'s tarball, which ships the C sources and no binaries, it builds the helpers on
// the user's machine, and never fails the install (a compile error is said in one line, and
// venv takes the ways above). In a checkout (`npm ci`) it does nothing: `npm run build` does it.
// Each binary is written under a temporary name and renamed
// into place: a failed build leaves no binary at all, never one older than the sources.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = `${root}dist/native`;
const install = 'apt-get install gcc pkg-config libfuse3-dev';
const onInstall = process.argv.includes('--install');
if (onInstall && existsSync(`${root}src/cli.ts`)) process.exit(0);

/** The command's stdout when it ran and exited 0, else undefined. */
function run(file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return result.status === 0 ? result.stdout : undefined;
}

function notBuilt(program, why, fallback) {
  rmSync(`${outDir}/${program}`, { force: true });
  process.stderr.write(`venv: ${program} not built: ${why}; ${fallback}\n`);
}

/** Compiles src/native/DIR/*.c into dist/native/PROGRAM; false when the compiler failed. */
function compile(cc, dir, program, flags, libs) {
  const sources = `${root}src/native/${dir}`;
  const target = `${outDir}/${program}`;
  const temp = `${outDir}/.${program}.${process.pid}.tmp`;
  const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  const files = readdirSync(sources)
    .filter((name) => name.endsWith('.c'))
    .sort()
    .map((name) => `${sources}/${name}`);
  mkdirSync(outDir, { recursive: true });
  const args = [
    ...['-O2', '-Wall', '-Wextra', '-Werror', '-Wshadow', '-Wformat=2', '-D_GNU_SOURCE'],
    `-DVENV_VERSION="${version}"`,
    ...flags,
    ...files,
    '-o',
    temp,
    ...libs,
  ];
  const result = spawnSync(cc, args, { stdio: 'inherit' });
  if (result.status === 0) {
    renameSync(temp, target);
    return true;
  }
  rmSync(temp, { force: true });
  rmSync(target, { force: true });
  process.stderr.write(`venv: building ${target} failed (${cc} exited with ${result.status ?? result.signal})\n`);
  if (!onInstall) process.exitCode = 1;
  return false;
}

const cc = [process.env.CC, 'cc', 'gcc'].find((name) => name && run(name, ['--version']) !== undefined);
const viewFallback = 'envs will use fuse-overlayfs';
if (!cc) {
  notBuilt('venv-enter', `no C compiler (cc or gcc) was found (${install})`, 'venv enters envs through nsenter');
  notBuilt('venv-lock', `no C compiler (cc or gcc) was found (${install})`, 'sessions lock with flock(1)');
  notBuilt('venv-opaque', `no C compiler (cc or gcc) was found (${install})`, 'commit reads opaque xattrs with tar');
  notBuilt('venv-publish', `no C compiler (cc or gcc) was found (${install})`, 'ports are published through node');
  notBuilt('venv-rootview', `no C compiler (cc or gcc) was found (${install})`, viewFallback);
} else {
  compile(cc, 'enter', 'venv-enter', [], []);
  compile(cc, 'lock', 'venv-lock', [], []);
  compile(cc, 'opaque', 'venv-opaque', [], []);
  compile(cc, 'publish', 'venv-publish', [], []);
  if (run('pkg-config', ['--version']) === undefined) {
    notBuilt('venv-rootview', `pkg-config is missing (${install})`, viewFallback);
  } else if (run('pkg-config', ['--exists', 'fuse3']) === undefined) {
    notBuilt('venv-rootview', `libfuse3-dev is missing (${install})`, viewFallback);
  } else {
    const flags = (args) => run('pkg-config', args).trim().split(/\s+/).filter(Boolean);
    compile(cc, 'rootview', 'venv-rootview', flags(['--cflags', 'fuse3']), flags(['--libs', 'fuse3']));
  }
}
