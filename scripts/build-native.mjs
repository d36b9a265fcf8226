// Builds venv's native helper, dist/native/venv-rootview (the read-only FUSE view of / under
// the kernel-overlay backend), when a C compiler and libfuse3's headers are there. Without
// them it says so in one line and succeeds: venv still builds and runs, on fuse-overlayfs.
// With them, a compile error fails the build, so that CI catches it.
// The binary is written under a temporary name and renamed into place: a failed build
// leaves no binary at all, never one older than the sources.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = `${root}src/native/rootview`;
const outDir = `${root}dist/native`;
const target = `${outDir}/venv-rootview`;
const temp = `${outDir}/.venv-rootview.${process.pid}.tmp`;

/** The command's stdout when it ran and exited 0, else undefined. */
function run(file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return result.status === 0 ? result.stdout : undefined;
}

function notBuilt(why) {
  rmSync(target, { force: true });
  process.stderr.write(`venv: native view not built: ${why}; envs will use fuse-overlayfs\n`);
}

const install = 'apt-get install gcc pkg-config libfuse3-dev';
const cc = [process.env.CC, 'cc', 'gcc'].find((name) => name && run(name, ['--version']) !== undefined);
if (!cc) {
  notBuilt(`no C compiler (cc or gcc) was found (${install})`);
} else if (run('pkg-config', ['--version']) === undefined) {
  notBuilt(`pkg-config is missing (${install})`);
} else if (run('pkg-config', ['--exists', 'fuse3']) === undefined) {
  notBuilt(`libfuse3-dev is missing (${install})`);
} else {
  const flags = (args) => run('pkg-config', args).trim().split(/\s+/).filter(Boolean);
  const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  const files = readdirSync(sources)
    .filter((name) => name.endsWith('.c'))
    .sort()
    .map((name) => `${sources}/${name}`);
  mkdirSync(outDir, { recursive: true });
  const args = [
    ...['-O2', '-Wall', '-Wextra', '-Werror', '-Wshadow', '-Wformat=2', '-D_GNU_SOURCE'],
    `-DROOTVIEW_VERSION="${version}"`,
    ...flags(['--cflags', 'fuse3']),
    ...files,
    '-o',
    temp,
    ...flags(['--libs', 'fuse3']),
  ];
  const result = spawnSync(cc, args, { stdio: 'inherit' });
  if (result.status === 0) {
    renameSync(temp, target);
  } else {
    rmSync(temp, { force: true });
    rmSync(target, { force: true });
    process.stderr.write(`venv: building ${target} failed (${cc} exited with ${result.status ?? result.signal})\n`);
    process.exitCode = 1;
  }
}
