// list and rm: sizes and in-use state, refusing to remove an env in use, --force, and
// removing files that belong to subordinate ids on the host.
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { e2eSetup, envMapping, hasSubordinateIds, skipReason } from '../helpers/e2e.js';
import { assertGone } from '../helpers/leftovers.js';
import { type Session, spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('admin');

interface Listed {
  name: string;
  changedBytes: number;
  changedEntries: number;
  inUse: boolean;
  processes: { pid: number; command: string }[];
}

async function listJson(): Promise<Listed[]> {
  const result = await e2e.venv(['list', '--json']);
  assert.equal(result.exitCode, 0, result.stderr);
  return JSON.parse(result.stdout) as Listed[];
}

/** Starts a session that runs until killed; the marker finds its command on the host. */
async function busy(name: string): Promise<{ session: Session; marker: string }> {
  const marker = `sleep 800.${randomInt(100000, 999999)}`;
  const session = spawnVenv(e2e.home, ['run', name, '--', 'sh', '-c', `echo ready; exec ${marker}`]);
  await waitForOutput(session, 'ready');
  return { session, marker };
}

describe('venv list', { skip: skipReason }, () => {
  test('no envs yet', async () => {
    const result = await e2e.venv(['list']);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^no envs yet/);
    assert.deepEqual(await listJson(), []);
  });

  test('size of the changes and whether in use', async () => {
    await e2e.create('listed');
    await e2e.create('empty');
    const write = await e2e.venv(['run', 'listed', '--', 'sh', '-c', 'head -c 300000 /dev/zero > /opt/blob']);
    assert.equal(write.exitCode, 0, write.stderr);
    const idle = await listJson();
    assert.deepEqual(
      idle.map((e) => e.name),
      ['empty', 'listed'],
    );
    const [empty, listed] = idle as [Listed, Listed];
    assert.equal(empty.changedBytes, 0);
    assert.ok(listed.changedBytes >= 300000 && listed.changedBytes < 400000, String(listed.changedBytes));
    assert.ok(listed.changedEntries >= 2, 'opt/ and opt/blob');
    assert.equal(listed.inUse, false);

    const { session, marker } = await busy('listed');
    const running = (await listJson()).find((e) => e.name === 'listed');
    assert.equal(running?.inUse, true);
    assert.ok(
      running?.processes.some((p) => p.command === marker),
      JSON.stringify(running?.processes),
    );
    const text = await e2e.venv(['list']);
    assert.match(text.stdout, /^NAME +CHANGES +ENTRIES +IN USE +PKG DB +BACKEND +CREATED\n/);
    assert.match(text.stdout, /\nlisted +\d+\.\d KiB +\d+ +yes \(1 process\) /);
    assert.match(text.stdout, /\nempty +0 B +0 +no /);
    session.kill('SIGTERM');
    await session;
  });
});

describe('venv rm', { skip: skipReason }, () => {
  test('removes an env', async () => {
    await e2e.create('gone');
    const result = await e2e.venv(['rm', 'gone']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, 'removed env "gone"\n');
    assert.equal(existsSync(e2e.envDir('gone')), false);
  });

  test('creating one env from several processes at once makes it once', async () => {
    const results = await Promise.all([1, 2, 3].map(() => e2e.venv(['create', 'racy'])));
    assert.deepEqual(results.map((r) => r.exitCode).sort(), [0, 125, 125]);
    for (const r of results.filter((r) => r.exitCode !== 0)) {
      assert.match(r.stderr, /^venv: error: (an env named "racy" already exists|env "racy" is locked)/);
    }
    assert.deepEqual(
      (await listJson()).filter((e) => e.name === 'racy').map((e) => e.name),
      ['racy'],
    );
    const entered = await e2e.venv(['run', 'racy', '--', 'true']);
    assert.equal(entered.exitCode, 0, entered.stderr);
  });

  test('refuses an env in use, naming its processes; --force ends them', async () => {
    await e2e.create('inuse');
    const { session, marker } = await busy('inuse');
    const refused = await e2e.venv(['rm', 'inuse']);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, /^venv: error: env "inuse" is in use: /);
    assert.ok(refused.stderr.includes(marker), refused.stderr);
    assert.match(refused.stderr, /\nhint: .*--force/);
    assert.equal(existsSync(`${e2e.envDir('inuse')}/env.json`), true);

    const forced = await e2e.venv(['rm', '--force', 'inuse']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(existsSync(e2e.envDir('inuse')), false);
    const ended = await session;
    assert.notEqual(ended.exitCode, 0, 'the session was ended');
    await assertGone(marker);
  });

  test('removes files owned by subordinate ids', async (t) => {
    await e2e.create('chowned');
    if (!hasSubordinateIds || envMapping(e2e.envDir('chowned')) !== 'auto') {
      return t.skip('this user has no subordinate ids, so nothing can be chowned inside');
    }
    const script =
      'mkdir -p /opt/sub/deep && touch /opt/sub/deep/f && chown -R 1234:1234 /opt/sub && chmod -R go-rwx /opt/sub';
    const made = await e2e.venv(['run', 'chowned', '--', 'sh', '-c', script]);
    assert.equal(made.exitCode, 0, made.stderr);
    const owner = lstatSync(`${e2e.envDir('chowned')}/upper/opt/sub`).uid;
    assert.notEqual(owner, process.getuid?.(), 'the test needs a file the user does not own on the host');
    const result = await e2e.venv(['rm', 'chowned']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(existsSync(e2e.envDir('chowned')), false);
  });
});
