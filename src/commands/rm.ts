import { rename, rm as rmTree } from 'node:fs/promises';
import { join } from 'node:path';
import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
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
    // The check (and, with --force, the ending of its processes) and the rename away are
    // one step under the start mutex: no session can enter in between, and one that was
    // waiting to enter finds its instance gone from the path (session.sh) and fails.
    const trash = join(home, 'envs', `.removing-${options.name}-${process.pid}`);
    await withEnvExclusive(paths, home, { force: options.force, flag: '--force' }, () => rename(paths.dir, trash));
    await removeTree(trash, meta?.mapping ?? 'single');
    // Its snapshots go with it: nothing can roll back to them any more, and a new env of
    // the same name would otherwise inherit them.
    await rmTree(snapshotsDir(home, options.name), { recursive: true, force: true });
  });
}
