// Running a program in a user namespace with an env's id mapping. The upper dir holds
// files owned by subordinate ids and 0/0 whiteout devices: only there can they be read,
// created with their owners, and deleted (root in the namespace owns the mapped ids).
import type { Mapping } from './host-checks.js';
import { run } from './exec.js';

/** The argv prefix that runs a command with the env's mapping (empty for real root). */
export function usernsPrefix(mapping: Mapping): string[] {
  if (mapping === 'auto') return ['unshare', '--user', '--map-root-user', '--map-auto'];
  if (mapping === 'single') return ['unshare', '--user', '--map-root-user'];
  return [];
}

/** [file, args] for `argv` run with the mapping. */
export function inUserns(mapping: Mapping, argv: readonly string[]): [string, string[]] {
  const full = [...usernsPrefix(mapping), ...argv];
  return [full[0] as string, full.slice(1)];
}

/**
 * The highest id that files can be owned by in the env: ids 0..N are all mapped. Real
 * root maps everything. Measured rather than assumed: the subordinate range may be small.
 */
export async function highestMappedId(mapping: Mapping): Promise<number> {
  if (mapping === 'host') return 2 ** 32 - 2;
  if (mapping === 'single') return 0;
  const [file, args] = inUserns(mapping, ['head', '-v', '-n', '400', '/proc/self/uid_map', '/proc/self/gid_map']);
  const result = await run(file, args, { failWith: 'NAMESPACE_FAILED' });
  // "==> /proc/self/uid_map <==", then lines "inside-start outside-start count".
  const [uidMap = '', gidMap = ''] = result.stdout.split(/^==>.*<==$/m).slice(1);
  return Math.max(0, Math.min(contiguousFromZero(uidMap), contiguousFromZero(gidMap)));
}

function contiguousFromZero(map: string): number {
  const lines = map
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
  let top = -1;
  for (const [inside = -1, , count = 0] of lines) if (inside === top + 1) top += count;
  return top;
}
