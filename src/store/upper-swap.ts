// Replacing an env's upper dir as a whole (rollback, restore --force). The new tree is
// built at ENV/.upper-next, then, with the start mutex held and nothing of the env running
// (locks/start-lock.ts: no session can enter meanwhile):
//   rename upper -> .upper-prev; rename .upper-next -> upper
// and, the mutex released, .upper-prev is deleted. The second rename is the point of no
// return: from there on the env has its new state, whatever happens to the deletion.
// Linux has no portable atomic exchange of two directories here (renameat2's
// RENAME_EXCHANGE has no node binding, and Debian 12's mv and util-linux lack it), so a
// kill -9 between the two renames can leave no upper. recoverUpper() finishes such a swap
// (.upper-next is complete once it has that name and upper is gone), deletes a
// .upper-prev whose deletion was cut short, and is run, under the env lock, before any
// command that reads or replaces the upper dir, and on entry through node.
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mapping } from '../host/host-checks.js';
import type { EnvPaths } from './paths.js';
import { VenvError } from '../errors.js';
import { type ExclusiveOptions, withEnvExclusive } from '../locks/start-lock.js';
import { removeTree } from './env-store.js';

export function nextUpper(paths: EnvPaths): string {
  return join(paths.dir, '.upper-next');
}

export function prevUpper(paths: EnvPaths): string {
  return join(paths.dir, '.upper-prev');
}

/** Whether an interrupted swap left something for recoverUpper() to do. */
export function swapLeftovers(paths: EnvPaths): boolean {
  return !existsSync(paths.upper) || existsSync(prevUpper(paths));
}

/** Finishes or cleans up an interrupted swap. Call with the env lock held. */
export async function recoverUpper(paths: EnvPaths, mapping: Mapping): Promise<void> {
  const next = nextUpper(paths);
  const prev = prevUpper(paths);
  if (!existsSync(paths.upper)) {
    if (existsSync(next)) await rename(next, paths.upper);
    else if (existsSync(prev)) await rename(prev, paths.upper);
  }
  // A .upper-next beside an upper is an unfinished build; a .upper-prev, a finished swap.
  for (const leftover of [next, prev]) if (existsSync(leftover)) await removeTree(leftover, mapping);
}

/** For an interruption after the swap (see cli/interrupt.ts): the old tree still to delete. */
export function oldTreeLeft(paths: EnvPaths, name: string): { what: string; hint: string } {
  return {
    what: `its old files are still in ${prevUpper(paths)}`,
    hint: `the next "venv diff ${name}" (or commit, snapshot, rollback, restore --force of it) deletes them`,
  };
}

export interface SwapOptions extends ExclusiveOptions {
  /** Called right after the new tree is in place: from then on the change is made. */
  onSwapped?: () => void;
}

/**
 * Puts .upper-next in place of the upper dir, then deletes the old one. Refuses while the
 * env is in use, unless `force` (which ends its processes). `signal` stops the waiting
 * for the env and the deletion, never the renames: aborted after the swap, it leaves the
 * old tree in .upper-prev for recoverUpper().
 */
export async function swapUpper(paths: EnvPaths, home: string, mapping: Mapping, options: SwapOptions = {}) {
  const prev = prevUpper(paths);
  await withEnvExclusive(paths, home, options, async () => {
    await rename(paths.upper, prev);
    try {
      await rename(nextUpper(paths), paths.upper);
    } catch (error) {
      await rename(prev, paths.upper);
      throw error;
    }
    options.onSwapped?.();
  });
  try {
    await removeTree(prev, mapping, options.signal);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new VenvError(
      'IO_FAILED',
      `the env has its new state, but its old files could not all be deleted: ${(error as Error).message}`,
      {
        hint: oldTreeLeft(paths, paths.name).hint,
        cause: error,
      },
    );
  }
}
