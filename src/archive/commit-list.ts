// Turns the walk of an upper dir into the names GNU tar archives for a commit, in OCI
// order and form: a 0/0 whiteout device becomes a shadow file .wh.NAME, an opaque
// directory gets a shadow .wh..wh..opq right after it, sockets are left out (tar cannot
// store them), and so is what venv prepared and the env left alone (see prepared.ts). A
// prepared directory is written only when something below it is: then with its marker,
// so that the restored env keeps it opaque.
import type { UpperEntry } from './upper-walk.js';

export interface CommitListOptions {
  /** Directories that an xattr alone makes opaque (the kernel's overlayfs). */
  xattrOpaque: Set<string>;
  /** True for what venv prepared and the env left as it was. */
  prepared: (path: string) => boolean;
  /** Makes the shadow .wh.NAME for the whiteout device at `path`; returns its name for tar. */
  whiteout: (path: string) => Buffer;
  /** Makes the shadow .wh..wh..opq of `dir`; returns its name for tar. */
  marker: (dir: string) => Buffer;
}

type Emit = (name: string | Buffer) => Promise<void> | void;

export async function listForCommit(walk: Iterable<UpperEntry>, options: CommitListOptions, emit: Emit): Promise<void> {
  // Prepared directories not written yet: the chain of ancestors of the current entry.
  let pending: { path: string; opaque: boolean }[] = [];
  let marked: string | undefined;
  const mark = async (dir: string) => {
    if (marked === dir) return;
    marked = dir;
    await emit(options.marker(dir));
  };
  const flush = async () => {
    const dirs = pending;
    pending = [];
    for (const dir of dirs) {
      await emit(dir.path);
      if (dir.opaque) await mark(dir.path);
    }
  };
  for (const entry of walk) {
    while (pending.length > 0 && !entry.path.startsWith(`${pending[pending.length - 1]?.path}/`)) pending.pop();
    const top = pending[pending.length - 1];
    if (entry.kind === 'opaque') {
      // The walk gives a directory's marker first among its children: right after it.
      const dir = entry.target as string;
      if (top?.path === dir && options.prepared(entry.path)) top.opaque = true;
      else {
        await flush();
        await mark(dir);
      }
      continue;
    }
    if (entry.kind === 'socket') continue;
    if (entry.kind === 'dir' && options.prepared(entry.path)) {
      pending.push({ path: entry.path, opaque: options.xattrOpaque.has(entry.path) });
      continue;
    }
    if (options.prepared(entry.path)) continue;
    await flush();
    if (entry.kind === 'whiteout' && entry.path === entry.target) {
      await emit(options.whiteout(entry.path));
      continue;
    }
    await emit(entry.path);
    if (entry.kind === 'dir' && options.xattrOpaque.has(entry.path)) await mark(entry.path);
  }
}
