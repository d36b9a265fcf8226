// Signals reach the command, not venv; a death by signal is 128+N; and killing venv
// outright leaves nothing behind: not the command, not the FUSE daemon, not a mount.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { assertGone, assertNoLeftovers, waitForProcess } from '../helpers/leftovers.js';
import { makeSharedDir } from '../helpers/venv-home.js';
import { CLI_JS, spawnVenv, VENV_BIN, venv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('signals');
const ENV = 'sig';

/** A sleep with a unique duration, to find it among the host's processes. */
function markedSleep(): string[] {
  return ['sleep', `900.${randomInt(100000, 999999)}`];
}

describe('signals', { skip: skipReason }, () => {
  let dir = '';
  before(async () => {
    await e2e.create(ENV);
    dir = makeSharedDir('/tmp', 'signals');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The fast path and the node path, each entering through venv-enter; and the fallback
  // where no compiler built it (nsenter, chroot, sh and env).
  const ways = [
    { path: 'sh fast path', viaNode: false, env: {} },
    { path: 'node path', viaNode: true, env: {} },
    { path: 'nsenter fallback', viaNode: false, env: { VENV_NATIVE_HELPERS: '0' } },
  ];
  for (const { path, viaNode: via, env } of ways) {
    const way = { viaNode: via, env };

    test(`SIGTERM to venv reaches the command (${path})`, async () => {
      const file = `${dir}/term-${via}-${env.VENV_NATIVE_HELPERS ?? ''}`;
      const script = `trap 'echo got-term > "$1"; exit 7' TERM; echo ready; while :; do sleep 0.05; done`;
      const session = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', file], way);
      await waitForOutput(session, 'ready');
      session.kill('SIGTERM');
      const result = await session;
      assert.equal(result.exitCode, 7, result.stderr);
      assert.equal(readFileSync(file, 'utf8'), 'got-term\n');
    });

    test(`a command killed by a signal: 128+N (${path})`, async () => {
      const self = await spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', 'kill -TERM $$'], way);
      assert.equal(self.exitCode, 143);
      const sleep = markedSleep();
      const session = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', 'echo ready; exec "$@"', 'sh', ...sleep], way);
      await waitForOutput(session, 'ready');
      session.kill('SIGHUP');
      assert.equal((await session).exitCode, 129);
      await assertGone(sleep.join(' '));
    });

    test(`SIGINT to the process group reaches the command (${path})`, async () => {
      const file = `${dir}/int-${via}-${env.VENV_NATIVE_HELPERS ?? ''}`;
      const script = `trap 'echo got-int > "$1"; exit 5' INT; echo ready; while :; do sleep 0.05; done`;
      const trapped = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', file], {
        ...way,
        detached: true,
      });
      await waitForOutput(trapped, 'ready');
      process.kill(-(trapped.pid as number), 'SIGINT');
      assert.equal((await trapped).exitCode, 5);
      assert.equal(readFileSync(file, 'utf8'), 'got-int\n');

      // A command that does not catch it dies of it, and venv says so.
      const plain = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', 'echo ready; exec sleep 60'], {
        ...way,
        detached: true,
      });
      await waitForOutput(plain, 'ready');
      process.kill(-(plain.pid as number), 'SIGINT');
      assert.equal((await plain).exitCode, 130);
    });

    test(`an unknown command: 127 and one line; a directory the env lacks: / (${path})`, async () => {
      const missing = await venv(e2e.home, ['run', ENV, '--', 'no-such-command-here'], way);
      assert.equal(missing.exitCode, 127);
      assert.equal(missing.stderr, 'venv: error: command not found in the env: no-such-command-here\n');
      // The env removed a directory the host has: a session started there begins at /.
      const gone = await venv(e2e.home, ['run', ENV, '--', 'rm', '-rf', '/usr/share/doc/dpkg'], way);
      assert.equal(gone.exitCode, 0, gone.stderr);
      const pwd = await venv(e2e.home, ['run', ENV, '--', 'pwd'], { ...way, cwd: '/usr/share/doc/dpkg' });
      assert.equal(pwd.stdout, '/\n', pwd.stderr);
    });

    // Not through node: libuv gives every child it spawns the default action for every
    // signal, so the node path cannot pass an ignored one on.
    test(
      `a signal ignored when venv starts stays ignored in the command, as nohup wants (${path})`,
      { skip: via && 'node resets signal actions in its children' },
      async () => {
        // Only SIGINT and SIGQUIT get their default actions back (venv ignores them itself).
        const script = 'trap "" HUP; exec "$@"';
        const args = via ? [process.execPath, CLI_JS] : [VENV_BIN];
        const result = await execa(
          'sh',
          ['-c', script, 'sh', ...args, 'run', ENV, '--', 'sh', '-c', 'kill -HUP $$; echo alive'],
          {
            env: { ...process.env, VENV_HOME: e2e.home, ...env },
            cwd: '/tmp',
            reject: false,
            stdin: 'ignore',
            timeout: 60_000,
          },
        );
        assert.equal(result.exitCode, 0, result.stderr);
        assert.equal(result.stdout, 'alive');
      },
    );

    test(`kill -9 of venv ends the command and leaves nothing (${path})`, async () => {
      const sleep = markedSleep();
      const session = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', 'echo ready; exec "$@"', 'sh', ...sleep], way);
      await waitForOutput(session, 'ready');
      assert.equal((await waitForProcess(sleep.join(' '))).length, 1, 'the command runs');
      session.kill('SIGKILL');
      await session;
      await assertGone(sleep.join(' '));
      await assertNoLeftovers(e2e.home);
      // And the env still works afterwards.
      const again = await spawnVenv(e2e.home, ['run', ENV, '--', 'true']);
      assert.equal(again.exitCode, 0, again.stderr);
    });
  }

  test('the leak check itself sees a running env', async () => {
    const session = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', 'echo ready; exec sleep 60']);
    await waitForOutput(session, 'ready');
    await assert.rejects(assertNoLeftovers(e2e.home, 100), /FUSE daemon/);
    session.kill('SIGTERM');
    assert.equal((await session).exitCode, 143);
    assert.equal(existsSync(`${e2e.envDir(ENV)}/run/keeper`), false, 'the keeper file goes with the keeper');
  });
});
