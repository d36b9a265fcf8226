// All or nothing: a kill -9 or a signal in the middle of a commit or a restore leaves no
// output file, no env, no staging dir and no process; restore never replaces an env by
// accident; an entry waits for a commit of its env to finish.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { assertGone, processesWith } from '../helpers/leftovers.js';
import { spawnVenv, VENV_BIN, waitForOutput } from '../helpers/venv-cli.js';
import { manifest } from './archive-helpers.js';

const e2e = e2eSetup('archive-safety');
const ROOTS = ['/opt/data'];

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Some hundred MB the compressor takes a while over, written straight into the upper dir. */
function fill(env: string): void {
  const dir = `${e2e.envDir(env)}/upper/opt/data`;
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', 'for i in 1 2 3; do head -c 100M /dev/urandom > "$1/big$i"; done', 'sh', dir]);
}

describe('interrupted commits and restores leave nothing', { skip: skipReason }, () => {
  let out = '';
  before(async () => {
    await e2e.create('big');
    fill('big');
    out = mkdtempSync('/tmp/venv-test-out-');
  });
  after(() => rmSync(out, { recursive: true, force: true }));
  const upper = () => `${e2e.envDir('big')}/upper`;

  test('kill -9 during a commit: no output file, no process', async () => {
    const session = spawnVenv(e2e.home, ['commit', 'big', '-o', `${out}/big.tar.zst`], { timeoutMs: 120_000 });
    await until(() => processesWith(upper()).some((p) => p.command.startsWith('tar ')), 'tar to start');
    session.kill('SIGKILL');
    await session;
    await assertGone(upper(), 5_000);
    assert.deepEqual(readdirSync(out), []);
  });

  test('SIGTERM during a commit: exit 130, no output file, no process', async () => {
    const session = spawnVenv(e2e.home, ['commit', 'big', '-o', `${out}/big.tar.zst`], { timeoutMs: 120_000 });
    await until(() => processesWith(upper()).some((p) => p.command.startsWith('tar ')), 'tar to start');
    session.kill('SIGTERM');
    const result = await session;
    assert.equal(result.exitCode, 130, result.stderr);
    assert.match(result.stderr, /interrupted by SIGTERM/);
    await assertGone(upper(), 5_000);
    assert.deepEqual(readdirSync(out), []);
  });

  test('a full disk under a commit to stdout: one line, exit 125, no scratch dir, no process', async () => {
    const full = spawnSync('sh', ['-c', '"$0" commit big -o - > /dev/full', VENV_BIN], {
      env: { ...process.env, VENV_HOME: e2e.home },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(full.status, 125, full.stderr);
    assert.equal(
      full.stderr,
      'venv: error: cannot write the archive to stdout: no space left on the device\n' +
        'hint: what was written is incomplete: do not use it\n',
    );
    await assertGone(upper(), 5_000);
    assert.deepEqual(
      readdirSync(`${e2e.home}/tmp`).filter((name) => name.startsWith('commit-')),
      [],
      "the killed worker's scratch dir is removed",
    );
  });

  test('an entry waits for a commit of its env to finish', async () => {
    const commit = spawnVenv(e2e.home, ['commit', 'big', '-o', `${out}/big.tar.zst`], { timeoutMs: 120_000 });
    await until(() => processesWith(upper()).some((p) => p.command.startsWith('tar ')), 'tar to start');
    const entered = await e2e.venv(['run', 'big', '--', 'true'], { timeoutMs: 120_000 });
    assert.equal(entered.exitCode, 0, entered.stderr);
    // The archive is renamed into place before the commit lets go of the env. (Not the
    // commit's promise: node may take the two exits in either order on a loaded machine.)
    assert.ok(existsSync(`${out}/big.tar.zst`), 'the entry ended only after the commit');
    assert.equal((await commit).exitCode, 0);
    assert.deepEqual(readdirSync(out), ['big.tar.zst']);
    assert.deepEqual(readdirSync(`${e2e.home}/tmp`), [], 'the scratch dirs of killed commits are gone too');
  });

  test('SIGINT during a restore: exit 130, no env, no staging dir, no process', async () => {
    const session = spawnVenv(e2e.home, ['restore', `${out}/big.tar.zst`, 'copy'], { timeoutMs: 120_000 });
    await until(() => processesWith('/.restore-copy-').some((p) => p.command.startsWith('tar ')), 'tar to start');
    session.kill('SIGINT');
    const result = await session;
    assert.equal(result.exitCode, 130, result.stderr);
    await assertGone('/.restore-copy-', 5_000);
    assert.deepEqual(
      readdirSync(`${e2e.home}/envs`).filter((name) => name !== 'big'),
      [],
    );
  });

  test('kill -9 during a restore: no env; the next restore clears the leftovers', async () => {
    const session = spawnVenv(e2e.home, ['restore', `${out}/big.tar.zst`, 'copy'], { timeoutMs: 120_000 });
    await until(() => processesWith('/.restore-copy-').some((p) => p.command.startsWith('tar ')), 'tar to start');
    session.kill('SIGKILL');
    await session;
    await assertGone('/.restore-copy-', 5_000);
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(
      listed.map((env) => env.name),
      ['big'],
    );
    const restored = await e2e.venv(['restore', `${out}/big.tar.zst`, 'copy'], { timeoutMs: 120_000 });
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.deepEqual(readdirSync(`${e2e.home}/envs`).sort(), ['big', 'copy']);
    assert.deepEqual(await manifest(e2e, 'copy', ROOTS), await manifest(e2e, 'big', ROOTS));
  });
});

describe('restore onto an existing env', { skip: skipReason }, () => {
  let file = '';
  before(async () => {
    await e2e.create('src');
    await e2e.create('dst');
    assert.equal(
      (await e2e.venv(['run', 'src', '--', 'sh', '-c', 'mkdir -p /opt/data; echo src > /opt/data/f'])).exitCode,
      0,
    );
    assert.equal(
      (await e2e.venv(['run', 'dst', '--', 'sh', '-c', 'mkdir -p /opt/data; echo dst > /opt/data/g'])).exitCode,
      0,
    );
    file = `${e2e.home}/src.tar.zst`;
    assert.equal((await e2e.venv(['commit', 'src', '-o', file])).exitCode, 0);
  });

  test('is refused without --force, and with --force while it is in use', async () => {
    const plain = await e2e.venv(['restore', file, 'dst']);
    assert.equal(plain.exitCode, 125);
    assert.match(plain.stderr, /an env named "dst" already exists\nhint: .*--force/);
    const session = spawnVenv(e2e.home, ['run', 'dst', '--', 'sh', '-c', 'echo ready; exec sleep 30']);
    await waitForOutput(session, 'ready');
    const busy = await e2e.venv(['restore', '--force', file, 'dst']);
    assert.equal(busy.exitCode, 125);
    assert.match(busy.stderr, /env "dst" is in use: .*sleep 30/);
    session.kill('SIGKILL');
    await session;
    assert.ok(existsSync(`${e2e.envDir('dst')}/upper/opt/data/g`), 'dst is unchanged');
  });

  test('with --force replaces its changes with the archive', async () => {
    await until(() => !existsSync(`${e2e.envDir('dst')}/run/keeper`), 'dst to stop', 5_000);
    const forced = await e2e.venv(['restore', '--force', file, 'dst']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.match(forced.stdout, /replaced the changes of env "dst"/);
    assert.deepEqual(await manifest(e2e, 'dst', ROOTS), await manifest(e2e, 'src', ROOTS));
  });
});
