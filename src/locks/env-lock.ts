// Env-level mutual exclusion for operations that must not overlap (create, rm, commit,
// snapshot, rollback, restore). Entering an env uses kernel flock locks in session.sh
// instead, because they must be held by the shell-side processes and vanish with them.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { VenvError } from '../errors.js';
import { checkVenvHome } from '../store/home-trust.js';

export interface EnvLockOptions {
  /** Fail at once (ENV_LOCKED) rather than wait for another venv command: for work that may be skipped. */
  noWait?: boolean;
}

export async function withEnvLock<T>(
  lockTarget: string,
  name: string,
  work: () => Promise<T>,
  options: EnvLockOptions = {},
): Promise<T> {
  await mkdir(dirname(lockTarget), { recursive: true, mode: 0o700 });
  // Again now that VENV_HOME may have just been made: in a sticky /tmp another user could
  // have made it first (mkdir -p does not say so).
  checkVenvHome(dirname(dirname(lockTarget)));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(lockTarget, {
      realpath: false,
      lockfilePath: `${lockTarget}.lock`,
      // ~14 s of retries: longer than `stale`, so that the lock of a venv that was killed
      // (kill -9 leaves it behind) is taken over instead of failing with ENV_LOCKED.
      retries: options.noWait ? 0 : { retries: 30, minTimeout: 50, maxTimeout: 500 },
      stale: 10_000,
    });
  } catch (error) {
    throw new VenvError('ENV_LOCKED', `env "${name}" is locked by another venv command`, {
      hint: 'wait for the other venv command (create, rm, commit, snapshot, restore) to finish',
      cause: error,
    });
  }
  try {
    return await work();
  } finally {
    await release().catch(() => undefined);
  }
}
