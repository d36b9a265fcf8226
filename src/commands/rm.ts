import { readdir, rename, rm as rmTree } from 'node:fs/promises';
import { join } from 'node:path';
import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
import type { EnvProcess } from '../store/env-state.js';
import { envPaths, envsDir, venvHome } from '../store/paths.js';
import { interruptible } from '../cli/interrupt.js';
import { isAlive } from '../host/pid.js';
import { chooseMapping } from '../host/host-checks.js';
import { snapshotsDir } from '../snapshots/snapshot-store.js';
import { readMeta, removeTree, usedLayers } from '../store/env-store.js';
import { sweepLayers } from '../store/layers.js';

export interface RmOptions {
  name: string;
  /** End the env's processes first if it is in use. */
  force?: boolean;
  /** Told which of the user's processes `force` ends, before they are ended. */
  onEnding?: (processes: EnvProcess[]) => void;
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
  await withEnvLock(paths.lockTarget, options.name, () =>
    interruptible(async (signal, progress) => {
      await sweepTrash(home);
      // The check (and, with --force, the ending of its processes) and the rename away are
      // one step under the start mutex: no session can enter in between, and one that was
      // waiting to enter finds its instance gone from the path (session.sh) and fails.
      const trash = join(envsDir(home), `.removing-${options.name}-${process.pid}`);
      const onEnding = (processes: EnvProcess[]) => {
        progress.ended = true;
        options.onEnding?.(processes);
      };
      const exclusive = { force: options.force, flag: '--force', signal, onEnding };
      await withEnvExclusive(paths, home, exclusive, () => rename(paths.dir, trash));
      progress.made = `env "${options.name}" is removed`;
      progress.left = {
        what: `its files are still in ${trash}`,
        hint: 'the next "venv rm" (of any env) deletes them',
      };
      await removeTree(trash, meta?.mapping ?? 'single', signal);
      // The layers it stood on go when no other env stands on them.
      const used = await usedLayers(home);
      if (used) await sweepLayers(home, used, removeTree, meta?.mapping ?? chooseMapping());
      // Its snapshots go with it: nothing can roll back to them any more, and a new env of
      // the same name would otherwise inherit them.
      await rmTree(snapshotsDir(home, options.name), { recursive: true, force: true });
      progress.left = undefined;
    }),
  );
}

const TRASH = /^\.removing-.+-(\d+)$/;

/** Deletes what removals that were cut short left (their venv is gone). */
async function sweepTrash(home: string): Promise<void> {
  for (const entry of await readdir(envsDir(home)).catch(() => [] as string[])) {
    const pid = Number(TRASH.exec(entry)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await removeTree(join(envsDir(home), entry), chooseMapping()).catch(() => undefined);
  }
}
