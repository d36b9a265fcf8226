// Replacing an env's upper dir as a whole (rollback, restore --force). The new tree is
// built at ENV/.upper-next, then, with the start mutex held and the env not in use:
//   rename upper -> .upper-prev; rename .upper-next -> upper; delete .upper-prev
// Linux has no portable atomic exchange of two directories here (renameat2's
// RENAME_EXCHANGE has no node binding, and Debian 12's mv and util-linux lack it), so a
// kill -9 between the two renames can leave no upper. recoverUpper() finishes such a swap
// (.upper-next is complete once it has that name and upper is gone) and is run, under the
// env lock, before any command that reads or replaces the upper dir, and on entry.
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mapping } from '../host/host-checks.js';
import type { EnvPaths } from './paths.js';
import { whileNotInUse } from '../locks/start-lock.js';
import { removeTree } from './env-store.js';

export function nextUpper(paths: EnvPaths): string {
  return join(paths.dir, '.upper-next');
}

function prevUpper(paths: EnvPaths): string {
  return join(paths.dir, '.upper-prev');
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

/** Puts .upper-next in place of the upper dir; refuses while the env is in use. */
export async function swapUpper(paths: EnvPaths, home: string, mapping: Mapping, flag = ''): Promise<void> {
  const prev = prevUpper(paths);
  await whileNotInUse(paths, home, flag, async () => {
    await rename(paths.upper, prev);
    try {
      await rename(nextUpper(paths), paths.upper);
    } catch (error) {
      await rename(prev, paths.upper);
      throw error;
    }
  });
  await removeTree(prev, mapping);
}
