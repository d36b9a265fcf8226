import { rm as rmTree } from 'node:fs/promises';
import { join } from 'node:path';
import { assertValidEnvName } from '../store/env-name.js';
import { describeProcesses, killEnv, runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { snapshotsDir } from '../snapshots/snapshot-store.js';
import { readMeta, removeTree } from '../store/env-store.js';

export interface RmOptions {
  name: string;
  /** End the env's processes first if it is in use. */
  force?: boolean;
  home?: string;
}

export async function rm(options: RmOptions): Promise<void> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const paths = envPaths(options.name, home);
  const meta = await readMeta(options.name, home).catch((error: unknown) => {
    if (options.force && error instanceof VenvError && error.code === 'ENV_CORRUPT') return undefined;
    throw error;
  });
  await withEnvLock(paths.lockTarget, options.name, async () => {
    const running = runningEnv(options.name, home);
    if (running) {
      if (!options.force) {
        throw new VenvError('ENV_BUSY', `env "${options.name}" is in use: ${describeProcesses(running)}`, {
          hint: `leave its shells first, or end them with "venv rm --force ${options.name}"`,
        });
      }
      killEnv(running);
      await waitUntilStopped(options.name, home);
    }
    // Under the env's start mutex, so that no session is starting the env meanwhile.
    const trash = join(home, 'envs', `.removing-${options.name}-${process.pid}`);
    const moved = await run('flock', ['-n', join(paths.run, 'start.lock'), 'mv', '-T', '--', paths.dir, trash]);
    if (moved.exitCode !== 0) {
      throw new VenvError('ENV_BUSY', `env "${options.name}" is being entered right now`, {
        hint: 'try again in a moment',
      });
    }
    await removeTree(trash, meta?.mapping ?? 'single');
    // Its snapshots go with it: nothing can roll back to them any more, and a new env of
    // the same name would otherwise inherit them.
    await rmTree(snapshotsDir(home, options.name), { recursive: true, force: true });
  });
}

async function waitUntilStopped(name: string, home: string): Promise<void> {
  for (let i = 0; i < 100 && runningEnv(name, home); i++) await new Promise((r) => setTimeout(r, 20));
}
