// Holding an env's start mutex (run/start.lock, the flock session.sh takes to start or
// join an env) from node, which has no flock(2): a `flock -n` child holds it while it
// waits on a pipe from us. While it is held no session can enter, so an env that is not
// in use stays so; the lock goes with the child if venv dies.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describeProcesses, runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import type { EnvPaths } from '../store/paths.js';

export interface StartLock {
  release(): Promise<void>;
}

/** Takes the start mutex without waiting; refuses if a session holds it right now. */
export async function takeStartLock(paths: EnvPaths): Promise<StartLock> {
  const child = spawn('flock', ['-n', join(paths.run, 'start.lock'), 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const closed = once(child, 'close');
  const locked = await new Promise<boolean>((resolve) => {
    child.stdout.once('data', () => resolve(true));
    child.once('close', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  if (!locked) {
    throw new VenvError('ENV_BUSY', `env "${paths.name}" is being entered or left right now`, {
      hint: 'try again in a moment',
    });
  }
  return {
    release: async () => {
      child.stdin.end();
      await closed;
    },
  };
}

/**
 * Runs `work` with the start mutex held and the env not in use: refuses (naming the
 * processes) if it is. `flag` names the option that would allow it anyway.
 */
export async function whileNotInUse<T>(
  paths: EnvPaths,
  home: string,
  flag: string,
  work: () => Promise<T>,
): Promise<T> {
  const lock = await takeStartLock(paths);
  try {
    const running = runningEnv(paths.name, home);
    if (running) {
      throw new VenvError('ENV_BUSY', `env "${paths.name}" is in use: ${describeProcesses(running)}`, {
        hint: `leave its shells and end its commands first${flag ? `, or use ${flag}` : ''}`,
      });
    }
    return await work();
  } finally {
    await lock.release();
  }
}
