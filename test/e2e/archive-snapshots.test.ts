// Snapshots: taken, listed with time and size, rolled back to exactly, removed; refused
// while the env is in use (naming the processes) unless --live / --force.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';
import { hostFiles, manifest } from './archive-helpers.js';

const e2e = e2eSetup('archive-snapshots');
const [hostFile] = skipReason ? [] : hostFiles(1);
const ROOTS = skipReason ? [] : ['/opt/snap', hostFile as string, 'ls:/etc'];

describe('snapshots', { skip: skipReason }, () => {
  before(async () => {
    await e2e.create('s');
    const setUp = `set -e; mkdir -p /opt/snap; echo one > /opt/snap/file; mkfifo /opt/snap/fifo
      ln /opt/snap/file /opt/snap/link; rm "${hostFile}"; chmod 4755 /opt/snap/file`;
    assert.equal((await e2e.venv(['run', 's', '--', 'sh', '-c', setUp])).exitCode, 0);
  });

  test('rollback puts back exactly the state of the snapshot', async () => {
    const before = await manifest(e2e, 's', ROOTS);
    const taken = await e2e.venv(['snapshot', 's', 'first']);
    assert.equal(taken.exitCode, 0, taken.stderr);
    assert.match(taken.stdout, /saved snapshot "first" of env "s"/);
    const change = `set -e; echo two > /opt/snap/file; rm /opt/snap/fifo; mkdir /opt/snap/new; touch "${hostFile}"`;
    assert.equal((await e2e.venv(['run', 's', '--', 'sh', '-c', change])).exitCode, 0);
    assert.notDeepEqual(await manifest(e2e, 's', ROOTS), before);
    const back = await e2e.venv(['rollback', 's', 'first']);
    assert.equal(back.exitCode, 0, back.stderr);
    assert.deepEqual(await manifest(e2e, 's', ROOTS), before);
    assert.deepEqual(
      readdirSync(e2e.envDir('s')).filter((name) => name.startsWith('.')),
      [],
      'no staging dir is left in the env',
    );
  });

  test('snapshots are listed with time and size; a tag is unique; rm removes one', async () => {
    assert.equal((await e2e.venv(['snapshot', 's'])).exitCode, 0);
    const listed = await e2e.venv(['snapshots', '--json', 's']);
    const snapshots = JSON.parse(listed.stdout) as { tag: string; created: string; bytes: number }[];
    assert.equal(snapshots.length, 2);
    assert.equal(snapshots[0]?.tag, 'first');
    assert.match(snapshots[1]?.tag ?? '', /^\d{8}-\d{6}$/);
    for (const s of snapshots) {
      assert.ok(s.bytes > 0 && !Number.isNaN(Date.parse(s.created)), JSON.stringify(s));
    }
    assert.match((await e2e.venv(['snapshots', 's'])).stdout, /^TAG +CREATED +SIZE\nfirst +\d{4}-\d\d-\d\d /);
    const again = await e2e.venv(['snapshot', 's', 'first']);
    assert.equal(again.exitCode, 125);
    assert.match(again.stderr, /already has a snapshot "first"/);
    assert.equal((await e2e.venv(['snapshot', 'rm', 's', 'first'])).exitCode, 0);
    assert.deepEqual(
      (JSON.parse((await e2e.venv(['snapshots', '--json', 's'])).stdout) as { tag: string }[]).map((s) => s.tag),
      [snapshots[1]?.tag],
    );
    const missing = await e2e.venv(['rollback', 's', 'first']);
    assert.equal(missing.exitCode, 125);
    assert.match(missing.stderr, /has no snapshot "first"/);
  });

  test('snapshot, rollback and commit are refused while the env is in use; --live and --force allow it', async () => {
    assert.equal((await e2e.venv(['snapshot', 's', 'base'])).exitCode, 0);
    const session = spawnVenv(e2e.home, ['run', 's', '--', 'sh', '-c', 'echo ready; exec sleep 30']);
    await waitForOutput(session, 'ready');
    for (const args of [
      ['snapshot', 's', 'busy'],
      ['rollback', 's', 'base'],
      ['commit', 's', '-o', `${e2e.home}/busy.tar.zst`],
    ]) {
      const result = await e2e.venv(args);
      assert.equal(result.exitCode, 125, args.join(' '));
      assert.match(result.stderr, /env "s" is in use: .*sleep 30/, args.join(' '));
    }
    assert.ok(!existsSync(`${e2e.home}/busy.tar.zst`));
    assert.equal((await e2e.venv(['commit', 's', '-o', `${e2e.home}/s.tar`, '--compress', 'none'])).exitCode, 125);
    const live = await e2e.venv(['snapshot', '--live', 's', 'live']);
    assert.equal(live.exitCode, 0, live.stderr);
    assert.match(live.stderr, /may be inconsistent/);
    const forced = await e2e.venv(['rollback', '--force', 's', 'base']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    const ended = await session;
    assert.notEqual(ended.exitCode, 0, 'rollback --force ended the session');
    const listed = JSON.parse((await e2e.venv(['snapshots', '--json', 's'])).stdout) as {
      tag: string;
      live: boolean;
    }[];
    assert.equal(listed.find((s) => s.tag === 'live')?.live, true);
  });
});

describe('a rollback killed between its two renames', { skip: skipReason }, () => {
  test('is finished by the next command that enters the env', async () => {
    await e2e.create('r');
    assert.equal((await e2e.venv(['run', 'r', '--', 'sh', '-c', 'mkdir -p /opt/r; echo new > /opt/r/f'])).exitCode, 0);
    // The state after "rename upper -> .upper-prev", before ".upper-next -> upper".
    renameSync(`${e2e.envDir('r')}/upper`, `${e2e.envDir('r')}/.upper-next`);
    mkdirSync(`${e2e.envDir('r')}/.upper-prev`);
    const entered = await e2e.venv(['run', 'r', '--', 'cat', '/opt/r/f']);
    assert.equal(entered.exitCode, 0, entered.stderr);
    assert.equal(entered.stdout, 'new\n');
    assert.deepEqual(
      readdirSync(e2e.envDir('r')).filter((name) => name.startsWith('.')),
      [],
    );
  });

  test("venv rm takes the env's snapshots with it: a new env of the name starts with none", async () => {
    await e2e.create('gone');
    assert.equal((await e2e.venv(['snapshot', 'gone', 'keep'])).exitCode, 0);
    assert.equal(existsSync(`${e2e.home}/snapshots/gone`), true);
    assert.equal((await e2e.venv(['rm', 'gone'])).exitCode, 0);
    assert.equal(existsSync(`${e2e.home}/snapshots/gone`), false);
    await e2e.create('gone');
    assert.equal((await e2e.venv(['snapshots', '--json', 'gone'])).stdout.trim(), '[]');
  });
});
