// venv rm and the sessions inside an env: the in-use check (or, with --force, the ending of
// the env's processes) and the removal are one step, no session can enter in between, and
// a session of a removed env never touches a new env of the same name.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { findLeftovers, fuseDaemons, pollUntilEmpty, processesWith } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';
import { removeVenvHome } from '../helpers/venv-home.js';

const e2e = e2eSetup('rm-entered');

/** FUSE daemons serving one env (by name), or every env of this home (see leftovers.ts). */
function daemons(env?: string): string[] {
  return fuseDaemons((dir) => (env === undefined ? dir.startsWith(`${e2e.home}/envs/`) : dir === e2e.envDir(env)));
}

/** The directories in $VENV_HOME/envs of an env: its own, or the one rm renamed it to. */
function envDirsOf(env: string): string[] {
  return readdirSync(`${e2e.home}/envs`).filter((name) => name === env || name.startsWith(`.removing-${env}-`));
}

/** Runs until the file `go` exists (/tmp is shared with the env); prints "in" first. */
function waitingSession(env: string, go: string, extra = '') {
  const script = `${extra}echo in; while [ ! -e "$1" ]; do sleep 0.05; done`;
  return spawnVenv(e2e.home, ['run', env, '--', 'sh', '-c', script, 'sh', go]);
}

async function createWithMarker(env: string): Promise<void> {
  await e2e.create(env);
  const made = await e2e.venv(['run', env, '--', 'sh', '-c', `echo ${env} > /etc/venv-marker`]);
  assert.equal(made.exitCode, 0, made.stderr);
}

/** The env is there and whole: its marker reads back from inside. */
async function assertIntact(env: string): Promise<void> {
  assert.equal(existsSync(`${e2e.envDir(env)}/env.json`), true, `${env} still has its env.json`);
  const read = await e2e.venv(['run', env, '--', 'cat', '/etc/venv-marker']);
  assert.equal(read.stdout, `${env}\n`, read.stderr);
}

describe('rm while a session is inside', { skip: skipReason }, () => {
  test('is refused, and the env and the session go on as they were', async () => {
    await createWithMarker('inside');
    const go = `${e2e.home}/go-inside`;
    const session = waitingSession('inside', go);
    await waitForOutput(session, 'in');
    const refused = await e2e.venv(['rm', 'inside']);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, /^venv: error: env "inside" is in use: .*sh -c/);
    assert.match(refused.stderr, /\nhint: .*--force/);
    writeFileSync(go, '');
    const ended = await session;
    assert.equal(ended.exitCode, 0, ended.stderr);
    await assertIntact('inside');
  });

  test('--force ends the session, removes the env, and leaves no process or mount', async () => {
    await createWithMarker('forced');
    const session = waitingSession('forced', `${e2e.home}/never`);
    await waitForOutput(session, 'in');
    const forced = await e2e.venv(['rm', '--force', 'forced']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    // The FUSE daemon lives in the env's pid namespace: gone before rm returns, not after.
    assert.deepEqual(daemons(), []);
    assert.deepEqual(envDirsOf('forced'), [], 'neither the env nor its renamed remains');
    const ended = await session;
    assert.notEqual(ended.exitCode, 0, 'the session was ended');
    assert.deepEqual(await pollUntilEmpty(() => findLeftovers(e2e.home)), []);
  });
});

describe('rm --force under a steady stream of entries', { skip: skipReason }, () => {
  test('either removes the env with everything ended or fails changing nothing, never half', async () => {
    for (let round = 0; round < 8; round++) {
      const env = `stream${round}`;
      await createWithMarker(env);
      let stop = false;
      let entries = 0;
      const statuses = new Set<number | undefined>();
      // Two loops entering one after another, as a busy user or a script would.
      const loop = async () => {
        while (!stop) {
          const result = await e2e.venv(['run', env, '--', 'true']);
          statuses.add(result.exitCode);
          entries++;
          if (result.exitCode === 125 && /no env named|is gone/.test(result.stderr)) return;
        }
      };
      // A second mount of the same upper dir would show as a second mount namespace.
      let most: string[] = [];
      const sampler = setInterval(() => {
        const now = daemons(env);
        if (now.length > most.length) most = now;
      }, 10);
      const loops = [loop(), loop()];
      while (entries < 4) await new Promise((resolve) => setTimeout(resolve, 10));
      const forced = await e2e.venv(['rm', '--force', env]);
      const daemonsThen = daemons();
      const dirsThen = envDirsOf(env);
      stop = true;
      await Promise.all(loops).finally(() => clearInterval(sampler));
      assert.ok(most.length <= 1, `round ${round}: at most one FUSE daemon at any time: ${most.join(', ')}`);
      if (forced.exitCode === 0) {
        assert.deepEqual(daemonsThen, [], `round ${round}: nothing of the env runs once rm has returned`);
        assert.deepEqual(dirsThen, [], `round ${round}: the env and its renamed remains are gone`);
        const again = await e2e.venv(['run', env, '--', 'true']);
        assert.equal(again.exitCode, 125, `round ${round}: no entry finds the removed env`);
      } else {
        assert.match(forced.stderr, /^venv: error: /, `round ${round}`);
        // Nothing changed: not even a session was ended.
        assert.deepEqual([...statuses], [0], `round ${round}: ${forced.stderr}`);
        await assertIntact(env);
        assert.equal((await e2e.venv(['rm', '--force', env])).exitCode, 0);
      }
      assert.deepEqual(await pollUntilEmpty(() => findLeftovers(e2e.home)), [], `round ${round}`);
    }
  });
});

describe('a session of a removed env', { skip: skipReason }, () => {
  test('does not touch a new env of the same name: its keeper file, its anchor, its mount', async () => {
    await createWithMarker('again');
    // The old session is held stopped while its env is removed and made anew, then goes on.
    const old = waitingSession('again', `${e2e.home}/never-again`);
    await waitForOutput(old, 'in');
    assert.ok(old.pid);
    process.kill(old.pid, 'SIGSTOP');
    try {
      const forced = await e2e.venv(['rm', '--force', 'again']);
      assert.equal(forced.exitCode, 0, forced.stderr);
      await createWithMarker('again');
      const go = `${e2e.home}/go-again`;
      const current = waitingSession('again', go);
      await waitForOutput(current, 'in');
      const keeper = readFileSync(`${e2e.envDir('again')}/run/keeper`, 'utf8');
      process.kill(old.pid, 'SIGCONT');
      await old;
      assert.equal(
        readFileSync(`${e2e.envDir('again')}/run/keeper`, 'utf8'),
        keeper,
        'the new env still has its keeper file',
      );
      const anchor = Number(keeper.split(' ')[0]);
      assert.doesNotThrow(() => process.kill(anchor, 0), 'the new env still has its anchor');
      // A new entry joins the running env instead of mounting its upper dir a second time.
      const joined = await e2e.venv(['run', 'again', '--', 'cat', '/etc/venv-marker']);
      assert.equal(joined.stdout, 'again\n', joined.stderr);
      assert.equal(daemons('again').length, 1);
      writeFileSync(go, '');
      assert.equal((await current).exitCode, 0);
    } finally {
      if (old.exitCode === null && old.signalCode === null) process.kill(old.pid, 'SIGCONT');
    }
  });

  test('waiting to enter while rm takes the env away: fails, and leaves a new env of the name alone', async () => {
    await createWithMarker('pinned');
    const dir = e2e.envDir('pinned');
    // Holds the start mutex the way rm does while it renames the env away.
    const holder = execa('flock', [`${dir}/run/start.lock`, 'sh', '-c', 'echo held; exec cat >/dev/null'], {
      stdin: 'pipe',
      reject: false,
    });
    await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
    const session = spawnVenv(e2e.home, ['run', 'pinned', '--', 'true']);
    // The session has entered the env's run dir and waits for the mutex (its `venv-lock
    // 8:x 9:sn`, or `flock -x 8` without the native helpers).
    const waiting = () => [...processesWith('venv-lock 8:x'), ...processesWith('flock -E 99 -x 8')];
    while (!waiting().some((p) => parentOf(p.pid) === session.pid)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    renameSync(dir, `${e2e.home}/envs/.removing-pinned-by-test`);
    await createWithMarker('pinned');
    const keeper = existsSync(`${dir}/run/keeper`);
    holder.stdin?.end();
    await holder;
    const entered = await session;
    assert.equal(entered.exitCode, 125, entered.stderr);
    assert.match(entered.stderr, /^venv: error: env directory \S+ is gone \(the env was removed\)/);
    assert.equal(existsSync(`${dir}/run/keeper`), keeper, 'the new env was neither started nor touched');
    assert.deepEqual(daemons(), []);
    await assertIntact('pinned');
    // What rm would have deleted (files of the env's ids: removed as a VENV_HOME is).
    removeVenvHome(`${e2e.home}/envs/.removing-pinned-by-test`);
  });
});

function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    return undefined;
  }
}
