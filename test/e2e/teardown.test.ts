// venv returns only once the env is torn down: the moment it exits, no FUSE daemon, no
// anchor and no mount of the env is left (the after-each check polls; these do not).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { findLeftovers, processesWith } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('teardown');
const ENV = 'down';

function assertTornDown(what: string): void {
  assert.deepEqual(findLeftovers(e2e.home), [], `left right after ${what}`);
  assert.equal(existsSync(`${e2e.envDir(ENV)}/run/keeper`), false, `keeper file after ${what}`);
}

describe('teardown when the last session leaves', { skip: skipReason }, () => {
  before(() => e2e.create(ENV));

  for (const viaNode of [false, true]) {
    const path = viaNode ? 'node path' : 'sh fast path';
    test(`after venv run (${path}), also when the command fails`, async () => {
      for (const command of [['true'], ['sh', '-c', 'exit 9'], ['no-such-command']]) {
        await e2e.venv(['run', ENV, '--', ...command], { viaNode });
        assertTornDown(`run ${command.join(' ')}`);
      }
    });

    test(`after venv shell (${path})`, async () => {
      const result = await e2e.venv(['shell', ENV], { viaNode, input: 'echo in\n', env: { SHELL: '/bin/sh' } });
      assert.equal(result.stdout, 'in\n');
      assertTornDown('shell');
    });
  }

  test('a daemon started in the env ends with it', async () => {
    const marker = `sleep 700.${process.pid}`;
    const result = await e2e.venv([
      'run',
      ENV,
      '--',
      'sh',
      '-c',
      `setsid ${marker} </dev/null >/dev/null 2>&1 & echo started`,
    ]);
    assert.equal(result.stdout, 'started\n');
    assert.deepEqual(processesWith(marker), [], 'gone the moment venv returned');
    assertTornDown('a daemon');
  });

  test('after the last of several sessions, not before', async () => {
    // It runs until the test creates the file "go" (/tmp is shared).
    const go = `${e2e.home}/go`;
    const script = 'echo ready; while [ ! -e "$1" ]; do sleep 0.05; done';
    const long = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', go]);
    await waitForOutput(long, 'ready');
    await e2e.venv(['run', ENV, '--', 'true']);
    assert.notDeepEqual(findLeftovers(e2e.home), [], 'the env runs on for the first session');
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { inUse: boolean }[];
    assert.equal(listed[0]?.inUse, true);
    writeFileSync(go, '');
    assert.equal((await long).exitCode, 0);
    assertTornDown('the last session');
    const after = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { inUse: boolean }[];
    assert.equal(after[0]?.inUse, false);
  });

  test('a FUSE mount that never completes ends in an error after VENV_MOUNT_TIMEOUT, not a hang', async () => {
    // A fuse-overlayfs that never answers, first on PATH, for an env that uses it.
    const stuck = 'stuck-fuse';
    const made = await e2e.venv(['create', '--backend', 'fuse-overlayfs', stuck]);
    assert.equal(made.exitCode, 0, made.stderr);
    const fakeBin = `${e2e.home}/stuck-bin`;
    const marker = `sleep 701.${process.pid}`;
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(`${fakeBin}/fuse-overlayfs`, `#!/bin/sh\nexec ${marker}\n`);
    chmodSync(`${fakeBin}/fuse-overlayfs`, 0o755);
    for (const viaNode of [false, true]) {
      const started = Date.now();
      const result = await e2e.venv(['run', stuck, '--', 'true'], {
        viaNode,
        env: { PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`, VENV_MOUNT_TIMEOUT: '2' },
        timeoutMs: 60_000,
      });
      assert.equal(result.exitCode, 125, result.stderr);
      assert.match(result.stderr, /fuse-overlayfs did not mount the env within 2 s/);
      assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
      assert.deepEqual(processesWith(marker), [], 'the stuck mount is killed');
      assert.deepEqual(findLeftovers(e2e.home), [], 'nothing left of a stuck mount');
    }
    const result = await e2e.venv(['run', stuck, '--', 'true']);
    assert.equal(result.exitCode, 0, `the env starts again with the real fuse-overlayfs: ${result.stderr}`);
  });
});
