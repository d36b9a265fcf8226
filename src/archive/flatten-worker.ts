// The flatten worker: `node flatten-worker.js JSON`, run inside a user namespace with the
// env's mapping (as commit-worker.ts is), where every file of the layers can be read and
// copied with its owner. It makes `dest` one upper dir that shows what a stacked env's
// layers and its own upper dir show together above the host's / (`venv commit --flatten`):
// the layers are applied bottom first, each as the overlay reads it over the ones below:
//   - a whiteout (0/0 device, .wh.NAME) removes what is below at its path, and stays
//     (it may hide a file of the host's);
//   - an opaque directory removes what is below at its path, and stays (with its marker);
//   - an entry whose type differs from what is below replaces it;
//   - directories merge.
// The removals are made first, walking the layer top-down and never below a path that is
// not a real directory in dest (a symlink the env put in a lower layer is removed, not
// followed); then `cp -a --remove-destination` copies the layer over dest, so that no
// file in dest is written through (a device, a hard link) and every directory it merges
// into is a real one.
import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import { allDone, start } from './child.js';
import { opaqueDirs } from './opaque-dirs.js';
import { walkUpper } from './upper-walk.js';
import { under } from './commit-worker.js';

export interface FlattenWorkerOptions {
  dest: string;
  /** Bottom first: the lowest layer, ..., the env's own upper dir. */
  layers: string[];
  /** The env's backend marks opaque dirs with an xattr (trusted.* as real root). */
  opaqueXattr: string | undefined;
}

function kindAt(path: Buffer): 'dir' | 'other' | 'none' {
  try {
    return lstatSync(path).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
}

async function applyLayer(dest: string, layer: string, xattr: string | undefined): Promise<void> {
  const opaque = xattr ? await opaqueDirs(layer, xattr.startsWith('trusted.')) : new Set<string>();
  for (const entry of walkUpper(layer)) {
    const target = entry.kind === 'whiteout' || entry.kind === 'opaque' ? (entry.target ?? entry.path) : entry.path;
    if (target === '') continue;
    const at = under(dest, target);
    const there = kindAt(at);
    if (there === 'none') continue;
    const hides =
      entry.kind === 'whiteout' ||
      entry.kind === 'opaque' ||
      (entry.kind === 'dir' && (opaque.has(entry.path) || there !== 'dir')) ||
      (entry.kind !== 'dir' && there === 'dir');
    if (hides) rmSync(at, { recursive: true, force: true });
  }
  const cp = start('cp', ['-a', '--remove-destination', '--no-target-directory', '--', `${layer}/.`, dest], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await allDone([cp]);
}

export async function flattenWorker(options: FlattenWorkerOptions): Promise<void> {
  mkdirSync(options.dest, { mode: 0o755 });
  for (const layer of options.layers) await applyLayer(options.dest, layer, options.opaqueXattr);
}

if (process.argv[1]?.endsWith('flatten-worker.js')) {
  flattenWorker(JSON.parse(process.argv[2] ?? '{}') as FlattenWorkerOptions).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
