// A disk that fills up in the middle of a commit or a restore: one line with a hint, exit
// 125, no partial output file, no half env, no staging dir, the space given back and the
// source env unchanged. Needs a small filesystem the test user can write: the runner
// mounts a 32 MiB tmpfs when run as root (CI) and names it in VENV_TEST_SMALL_FS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { assertNoLeftovers } from '../helpers/leftovers.js';
import { venv } from '../helpers/venv-cli.js';
import { manifest } from './archive-helpers.js';

const e2e = e2eSetup('archive-disk-full');
const small = process.env.VENV_TEST_SMALL_FS;
const skip =
  skipReason ||
  (small
    ? false
    : 'needs a small filesystem: set VENV_TEST_SMALL_FS to a directory on one (npm test as root mounts it)');
const ROOTS = ['/opt/data'];

/** Bytes free on the small filesystem. */
function free(): number {
  const stats = statfsSync(small as string);
  return stats.bavail * stats.bsize;
}

describe('a full disk during commit and restore', { skip }, () => {
  let out = '';
  before(async () => {
    await e2e.create('big');
    // 48 MiB that does not compress: more than the small filesystem holds.
    const dir = `${e2e.envDir('big')}/upper/opt/data`;
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', 'for i in 1 2 3; do head -c 16M /dev/urandom > "$1/big$i"; done', 'sh', dir]);
    out = mkdtempSync('/tmp/venv-test-out-');
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  test('commit -o FILE on a full filesystem: no file, the space given back, the env unchanged', async () => {
    const before = await manifest(e2e, 'big', ROOTS);
    const freeBefore = free();
    const result = await e2e.venv(['commit', 'big', '-o', `${small}/big.tar.zst`], { timeoutMs: 120_000 });
    assert.equal(result.exitCode, 125, result.stderr);
    assert.match(result.stderr, /^venv: error: .*no space left/im);
    assert.match(result.stderr, /^hint: /m);
    assert.equal(result.stderr.trim().split('\n').length, 2, result.stderr);
    assert.deepEqual(readdirSync(small as string), [], 'no file, complete or not');
    assert.ok(free() >= freeBefore - 64 * 1024, `free space back: ${free()} of ${freeBefore}`);
    assert.deepEqual(readdirSync(`${e2e.home}/tmp`), [], 'no scratch dir');
    assert.deepEqual(await manifest(e2e, 'big', ROOTS), before, 'the env is unchanged');
    await assertNoLeftovers(e2e.home);
  });

  test('restore into a VENV_HOME on a full filesystem: no env, no staging dir, the space given back', async () => {
    const archive = `${out}/big.tar.zst`;
    const committed = await e2e.venv(['commit', 'big', '-o', archive], { timeoutMs: 120_000 });
    assert.equal(committed.exitCode, 0, committed.stderr);
    const home = `${small}/home`;
    mkdirSync(home);
    try {
      const freeBefore = free();
      const result = await venv(home, ['restore', archive, 'copy'], { timeoutMs: 120_000 });
      assert.equal(result.exitCode, 125, result.stderr);
      assert.match(result.stderr, /^venv: error: .*no space left/im);
      assert.match(result.stderr, /^hint: /m);
      assert.equal(result.stderr.trim().split('\n').length, 2, result.stderr);
      assert.deepEqual(readdirSync(`${home}/envs`), [], 'no env and no staging dir');
      assert.ok(free() >= freeBefore - 64 * 1024, `free space back: ${free()} of ${freeBefore}`);
      await assertNoLeftovers(home);
      assert.ok(existsSync(archive), 'the archive is left alone');
    } finally {
      execFileSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', home]);
    }
  });

  test('restore onto a disk already full: one line, not a stack', async () => {
    const archive = `${out}/small.tar`;
    const made = await e2e.venv(['create', 'tiny']);
    assert.equal(made.exitCode, 0, made.stderr);
    assert.equal((await e2e.venv(['commit', 'tiny', '-o', archive, '--compress', 'none'])).exitCode, 0);
    const home = `${small}/full-home`;
    mkdirSync(home, { mode: 0o700 });
    try {
      execFileSync('sh', [
        '-c',
        'head -c "$2" /dev/zero > "$1/filler" 2>/dev/null; true',
        'sh',
        small as string,
        String(free()),
      ]);
      const result = await venv(home, ['restore', archive, 'copy'], { timeoutMs: 60_000 });
      assert.equal(result.exitCode, 125, result.stderr);
      assert.doesNotMatch(result.stderr, /internal error|^\s+at /m);
      assert.match(result.stderr, /^venv: error: .*no space left/im);
      assert.equal(result.stderr.trim().split('\n').length, 2, result.stderr);
    } finally {
      rmSync(`${small}/filler`, { force: true });
      execFileSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', home]);
    }
  });

  test('snapshot and rollback on a full filesystem: one line, no snapshot, the env unchanged', async () => {
    const home = `${small}/snap-home`;
    mkdirSync(home, { mode: 0o700 });
    const inHome = (args: string[]) => venv(home, args, { timeoutMs: 120_000 });
    const fill = (megabytes: number, name: string) =>
      execFileSync('sh', [
        '-c',
        'mkdir -p "$1" && head -c "$2M" /dev/urandom > "$1/$3"',
        'sh',
        `${home}/envs/s/upper/opt/data`,
        String(megabytes),
        name,
      ]);
    const oneLine = (stderr: string) => {
      assert.match(stderr, /^venv: error: .*no space left on the device\nhint: free some space/);
      assert.equal(stderr.trim().split('\n').length, 2, stderr);
    };
    try {
      assert.equal((await inHome(['create', 's'])).exitCode, 0);
      // 8 MiB that does not compress: a snapshot of it fits, a second copy of all later does not.
      fill(8, 'first');
      const first = await inHome(['snapshot', 's', 'small']);
      assert.equal(first.exitCode, 0, first.stderr);
      fill(12, 'second');
      const before = await venv(home, ['diff', 's']);
      const snapshot = await inHome(['snapshot', 's', 'big']);
      assert.equal(snapshot.exitCode, 125, snapshot.stderr);
      oneLine(snapshot.stderr);
      assert.match(snapshot.stderr, /cannot save snapshot "big" of env "s"/);
      assert.deepEqual(readdirSync(`${home}/snapshots/s`), ['small'], 'no snapshot "big", no staging dir');
      // 28 of the 32 MiB are used now: unpacking the 8 MiB snapshot beside the env cannot fit.
      const rollback = await inHome(['rollback', 's', 'small']);
      assert.equal(rollback.exitCode, 125, rollback.stderr);
      oneLine(rollback.stderr);
      assert.match(rollback.stderr, /cannot roll env "s" back.*\nhint: .*the env was not changed/);
      assert.deepEqual(
        readdirSync(`${home}/envs/s`).filter((name) => name.startsWith('.upper')),
        [],
        'no half tree',
      );
      const after = await venv(home, ['diff', 's']);
      assert.equal(after.stdout, before.stdout, 'the env is as it was');
      await assertNoLeftovers(home);
    } finally {
      execFileSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', home]);
    }
  });
});
