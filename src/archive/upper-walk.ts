// Walks an overlay upper dir in a stable order and says what each entry means to the
// overlay. The forms an upper dir holds, all of which must be read:
//   whiteout   a 0/0 character device NAME (kernel overlayfs, fuse-overlayfs with mknod),
//              or an empty file .wh.NAME (fuse-overlayfs without mknod, OCI layers)
//   opaque dir an xattr (trusted.overlay.opaque, user.overlay.opaque,
//              user.fuseoverlayfs.opaque = "y") and/or a file .wh..wh..opq inside it;
//              fuse-overlayfs 1.10 also leaves a 0/0 device .wh..opq, its own form of
//              that file, which means nothing once the xattr or the file is there.
// Node cannot read xattrs, so opaque dirs marked only by an xattr are found by the
// callers through tar (see commit-worker.ts and diff-worker.ts).
// Runs inside a user namespace with the env's mapping, where every entry is readable.
import { type Dirent, lstatSync, readdirSync } from 'node:fs';
import { fileTypeOf } from './file-type.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** fuse-overlayfs's device form of the opaque marker. */
const FUSE_OPAQUE_DEVICE = '.wh..opq';

export type UpperKind = 'dir' | 'file' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev' | 'whiteout' | 'opaque';

export interface UpperEntry {
  /** Relative to the upper dir, "/"-separated, as latin1 (bytes one to one). */
  path: string;
  kind: UpperKind;
  /** For a whiteout: the path it deletes; for an opaque marker: the directory. */
  target?: string;
}

function kindOf(dirent: Dirent, abs: () => Buffer): UpperKind {
  // DT_UNKNOWN (some filesystems do not fill d_type): ask lstat.
  const type = fileTypeOf(dirent) ?? fileTypeOf(lstatSync(abs())) ?? 'file';
  // Overlay whiteouts are 0/0 character devices.
  return type === 'chardev' && lstatSync(abs()).rdev === 0 ? 'whiteout' : type;
}

// latin1 strings hold one byte per code unit, so comparing them compares the bytes.
const byName = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The entries of one directory in walk order (its subdirectories not yet entered). */
function readDir(root: Buffer, dir: string): UpperEntry[] {
  const abs = dir === '' ? root : Buffer.concat([root, Buffer.from(`/${dir}`, 'latin1')]);
  const marker: UpperEntry[] = [];
  const whiteouts: { key: string; entry: UpperEntry }[] = [];
  const rest: { key: string; entry: UpperEntry }[] = [];
  // Names as latin1 strings straight from readdir: no Buffer per name (a fifth of the
  // walk's CPU went to making and decoding them).
  for (const dirent of readdirSync(abs, { withFileTypes: true, encoding: 'latin1' })) {
    const name = dirent.name;
    const path = dir === '' ? name : `${dir}/${name}`;
    const kind = kindOf(dirent, () => Buffer.concat([abs, Buffer.from(`/${name}`, 'latin1')]));
    if (kind === 'whiteout') {
      if (name !== FUSE_OPAQUE_DEVICE) whiteouts.push({ key: name, entry: { path, kind, target: path } });
    } else if (kind === 'file' && name === OPAQUE_MARKER) {
      marker.push({ path, kind: 'opaque', target: dir });
    } else if (kind === 'file' && name.startsWith(WHITEOUT_PREFIX) && name.length > WHITEOUT_PREFIX.length) {
      const key = name.slice(WHITEOUT_PREFIX.length);
      whiteouts.push({ key, entry: { path, kind: 'whiteout', target: dir === '' ? key : `${dir}/${key}` } });
    } else {
      rest.push({ key: name, entry: { path, kind } });
    }
  }
  return [...marker, ...whiteouts.sort(byName).map((w) => w.entry), ...rest.sort(byName).map((r) => r.entry)];
}

/**
 * Yields every entry below `root` (not root itself): a directory before its children,
 * and in each directory the opaque marker first, then the whiteouts, then the rest, each
 * group sorted by bytes. Memory: the directories on the current path, nothing more.
 */
export function* walkUpper(root: string): Generator<UpperEntry> {
  const rootBytes = Buffer.from(root);
  const stack: { entries: UpperEntry[]; next: number }[] = [{ entries: readDir(rootBytes, ''), next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { entries: UpperEntry[]; next: number };
    const entry = top.entries[top.next++];
    if (!entry) {
      stack.pop();
      continue;
    }
    yield entry;
    if (entry.kind === 'dir') stack.push({ entries: readDir(rootBytes, entry.path), next: 0 });
  }
}
