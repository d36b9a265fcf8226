// "A restored env can make venv overwrite any file of the user": what an archive or the
// env's programs put where venv reads or writes its own files (a symlink to a file of the
// user's or to a directory, a FIFO, a link to /dev/zero, a huge file) is never followed,
// opened or read whole (src/store/env-files.ts, and session.sh for run/). Each case ends
// quickly with one line and exit 125, the user's file unchanged, venv's memory bounded.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Type } from '../../src/archive/tar-header.js';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { archive, entry } from '../helpers/tar-fixtures.js';
import { spawnVenv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('env-files');
const work = skipReason ? '/nonexistent' : mkdtempSync('/tmp/venv-test-env-files-');
after(() => rmSync(work, { recursive: true, force: true }));

/** A file of the user's that no venv command may change, in a directory of its own. */
function victim(): { dir: string; file: string } {
  const dir = mkdtempSync(`${work}/victim-`);
  writeFileSync(`${dir}/bashrc`, "the user's own\n");
  return { dir, file: `${dir}/bashrc` };
}

const STATUS = 'Package: tool\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\n\n';

/** Restores an env whose upper dir holds its own dpkg database, plus `extra` entries. */
async function restoreEnv(name: string, extra: [ReturnType<typeof entry>, string?][] = [], base = true) {
  const dir = (path: string) => [entry(path, { type: Type.dir, mode: 0o755 })] as [ReturnType<typeof entry>];
  const members: [ReturnType<typeof entry>, string?][] = [dir('var/'), dir('var/lib/')];
  const paths = new Set(extra.map(([e]) => e.path));
  if (!paths.has('var/lib/dpkg')) members.push(dir('var/lib/dpkg/'));
  if (!paths.has('var/lib/dpkg/status') && !paths.has('var/lib/dpkg'))
    members.push([entry('var/lib/dpkg/status'), STATUS]);
  if (!paths.has('var/lib/venv')) members.push(dir('var/lib/venv/'));
  if (base && !paths.has('var/lib/venv')) members.push([entry('var/lib/venv/dpkg-status.base'), STATUS]);
  const file = `${work}/${name}.tar`;
  writeFileSync(file, archive(...members, ...extra));
  const result = await e2e.venv(['restore', file, name]);
  assert.equal(result.exitCode, 0, result.stderr);
}

const link = (path: string, target: string) => entry(path, { type: Type.symlink, linkpath: target });

interface Measured {
  exitCode: number | undefined;
  stderr: string;
  ms: number;
  /** Highest resident size seen of the venv process (it execs node or sh in place). */
  peakKiB: number;
}

/** Runs venv, watching its time and memory. */
async function measured(args: string[]): Promise<Measured> {
  const started = Date.now();
  const child = spawnVenv(e2e.home, args, { timeoutMs: 30_000 });
  let peakKiB = 0;
  const watch = setInterval(() => {
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      peakKiB = Math.max(peakKiB, Number(rss?.[1] ?? 0));
    } catch {
      // gone
    }
  }, 5);
  const result = await child;
  clearInterval(watch);
  return { exitCode: result.exitCode, stderr: String(result.stderr), ms: Date.now() - started, peakKiB };
}

/** One line (and a hint), exit 125, in a few seconds, in the memory of a plain node run. */
function assertRefused(run: Measured, what: RegExp): void {
  assert.equal(run.exitCode, 125, run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.ok(lines.length <= 2, run.stderr);
  assert.match(lines[0] ?? '', /^venv: error: /);
  assert.match(lines[0] ?? '', what);
  if (lines[1] !== undefined) assert.match(lines[1], /^hint: /);
  assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
  assert.ok(run.peakKiB < 250_000, `venv grew to ${run.peakKiB} KiB`);
}

function assertUntouched(v: { dir: string; file: string }): void {
  assert.equal(readFileSync(v.file, 'utf8'), "the user's own\n");
  assert.deepEqual(readdirSync(v.dir), ['bashrc']);
}

describe('a restored env cannot make venv write a file of the user', { skip: skipReason }, () => {
  test('sync-pkgdb: a symlink to a file of the user where venv keeps the status before the sync', async () => {
    const v = victim();
    await restoreEnv('to-file', [[link('var/lib/venv/dpkg-status.before-sync', v.file)]]);
    assertRefused(await measured(['sync-pkgdb', 'to-file']), /dpkg-status\.before-sync: a symlink/);
    assertUntouched(v);
  });

  test('sync-pkgdb: a symlink to a directory of the user in place of /var/lib/venv', async () => {
    const v = victim();
    await restoreEnv('to-dir', [[link('var/lib/venv', v.dir)]]);
    assertRefused(await measured(['sync-pkgdb', 'to-dir']), /var\/lib\/venv: a symlink/);
    assertUntouched(v);
  });

  test("restore's preparation for package managers: symlinked directories are the env's, never written through", async () => {
    const v = victim();
    await restoreEnv('prep', [
      [entry('etc/', { type: Type.dir, mode: 0o755 })],
      [entry('etc/apt/', { type: Type.dir, mode: 0o755 })],
      [link('etc/apt/apt.conf.d', v.dir)],
      [link('var/lib/dpkg', v.dir)],
    ]);
    assertUntouched(v);
  });
});

describe('a restored env cannot make venv hang or grow where it reads', { skip: skipReason }, () => {
  test('sync-pkgdb: a FIFO as the dpkg status', async () => {
    await restoreEnv('fifo');
    const status = `${e2e.envDir('fifo')}/upper/var/lib/dpkg/status`;
    rmSync(status);
    execFileSync('mkfifo', [status]);
    assertRefused(await measured(['sync-pkgdb', 'fifo']), /status: a FIFO/);
  });

  test('sync-pkgdb: the dpkg status a link to /dev/zero', async () => {
    await restoreEnv('zero', [[link('var/lib/dpkg/status', '/dev/zero')]]);
    assertRefused(await measured(['sync-pkgdb', 'zero']), /status: a symlink/);
  });

  test('sync-pkgdb: a huge dpkg status', async () => {
    await restoreEnv('huge');
    truncateSync(`${e2e.envDir('huge')}/upper/var/lib/dpkg/status`, 4 * 2 ** 30);
    assertRefused(await measured(['sync-pkgdb', 'huge']), /status: it is 4096\.0 MiB, more than/);
  });

  test('env.json a link to /dev/zero: run and list', async () => {
    await e2e.create('meta');
    const meta = `${e2e.envDir('meta')}/env.json`;
    rmSync(meta);
    symlinkSync('/dev/zero', meta);
    assertRefused(await measured(['run', 'meta', '--', 'true']), /env\.json: a symlink/);
  });

  test('run/keeper a link to /dev/zero, or a FIFO: list, run', async () => {
    await e2e.create('keeper');
    const keeper = `${e2e.envDir('keeper')}/run/keeper`;
    symlinkSync('/dev/zero', keeper);
    assertRefused(await measured(['list']), /run\/keeper: a symlink/);
    assertRefused(await measured(['run', 'keeper', '--', 'true']), /run\/keeper: a symlink or not a regular file/);
    rmSync(keeper);
    execFileSync('mkfifo', [keeper]);
    assertRefused(await measured(['list']), /run\/keeper: a FIFO/);
    assertRefused(await measured(['run', 'keeper', '--', 'true']), /run\/keeper: a symlink or not a regular file/);
  });

  test('snapshots: snapshot.json a link to /dev/zero, the tarball a FIFO: rollback', async () => {
    await e2e.create('snap');
    assert.equal((await e2e.venv(['snapshot', 'snap', 't1'])).exitCode, 0);
    const dir = `${e2e.home}/snapshots/snap/t1`;
    rmSync(`${dir}/upper.tar.zst`);
    execFileSync('mkfifo', [`${dir}/upper.tar.zst`]);
    assertRefused(await measured(['rollback', 'snap', 't1']), /upper\.tar\.zst: a FIFO/);
    rmSync(`${dir}/snapshot.json`);
    symlinkSync('/dev/zero', `${dir}/snapshot.json`);
    assertRefused(await measured(['rollback', 'snap', 't1']), /snapshot\.json: a symlink/);
  });
});

describe("a log link in run/ does not carry venv's writes", { skip: skipReason }, () => {
  test('run/keeper.log a symlink to a file of the user: entering refuses, the file is unchanged', async () => {
    const v = victim();
    await e2e.create('logs');
    symlinkSync(v.file, `${e2e.envDir('logs')}/run/keeper.log`);
    assertRefused(await measured(['run', 'logs', '--', 'true']), /keeper\.log: a symlink/);
    assertUntouched(v);
  });

  test('runtime logs are bounded: one over 256 KiB keeps its last 64 KiB at the next start', async () => {
    await e2e.create('trim');
    const log = `${e2e.envDir('trim')}/run/fuse.log`;
    writeFileSync(log, `${'x'.repeat(300 << 10)}\nthe last line\n`);
    const result = await e2e.venv(['run', 'trim', '--', 'true']);
    assert.equal(result.exitCode, 0, result.stderr);
    const kept = readFileSync(log, 'utf8');
    assert.ok(kept.length < (64 << 10) + 4096, `${kept.length} bytes kept`);
    assert.ok(kept.includes('the last line\n'));
  });
});
