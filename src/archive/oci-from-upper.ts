// Turns GNU tar's archive of an upper dir (made from the walkUpper list, so in its order)
// into an OCI image layer: 0/0 devices become empty `.wh.NAME` files, an opaque dir gets
// a `DIR/.wh..wh..opq` right after its own entry, the overlay's own xattrs are dropped,
// and ids are those seen inside the env. Every header is rewritten by tar-write.ts, so
// the output depends on the upper dir only.
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './upper-walk.js';
import { type TarEntry, Type } from './tar-header.js';
import type { TarItem } from './tar-parse.js';
import { entryHeader, padding } from './tar-write.js';

/** xattrs that belong to the overlay (opaque flags, copy-up origins), never to the files. */
export const OVERLAY_XATTR = /^(trusted\.overlay\.|user\.overlay\.|user\.fuseoverlayfs\.)/;
const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];
const FUSE_OPAQUE_DEVICE = '.wh..opq';

export interface OciFromUpperOptions {
  /**
   * The overflow id (65534) to write as 0. Files fuse-overlayfs copied up from the host's
   * root-owned files are stored owned by it, because host root is not mapped in the env.
   */
  overflowId?: number;
}

export function splitPath(path: string): { dir: string; base: string } {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash === -1 ? { dir: '', base: trimmed } : { dir: trimmed.slice(0, slash), base: trimmed.slice(slash + 1) };
}

const join = (dir: string, base: string) => (dir === '' ? base : `${dir}/${base}`);

export async function* ociFromUpper(
  items: AsyncIterable<TarItem>,
  options: OciFromUpperOptions = {},
): AsyncGenerator<Buffer> {
  const id = (value: number) => (value === options.overflowId ? 0 : value);
  let lastDir: TarEntry | undefined;
  let markedDir: string | undefined;
  let left = 0;
  let size = 0;
  let skip = false;
  const marker = (dir: TarEntry): Buffer =>
    entryHeader({
      ...dir,
      path: join(dir.path.replace(/\/+$/, ''), OPAQUE_MARKER),
      type: Type.file,
      mode: dir.mode & 0o777,
      size: 0,
      xattrs: new Map(),
    });
  for await (const item of items) {
    if (item.kind === 'data') {
      left -= item.chunk.length;
      if (skip) continue;
      yield item.chunk;
      if (left === 0) yield padding(size);
      continue;
    }
    const entry: TarEntry = { ...item.entry, uid: id(item.entry.uid), gid: id(item.entry.gid) };
    const { dir, base } = splitPath(entry.path);
    const opaque = OPAQUE_XATTRS.some((name) => entry.xattrs.get(name)?.toString() === 'y');
    entry.xattrs = new Map([...entry.xattrs].filter(([name]) => !OVERLAY_XATTR.test(name)));
    size = left = entry.size;
    skip = true;
    if (entry.type === Type.chardev && entry.devmajor === 0 && entry.devminor === 0) {
      if (base === FUSE_OPAQUE_DEVICE) continue;
      yield entryHeader({ ...entry, path: join(dir, WHITEOUT_PREFIX + base), type: Type.file, mode: 0o600 });
      continue;
    }
    if (entry.type === Type.file && base === OPAQUE_MARKER) {
      if (markedDir === dir) continue;
      markedDir = dir;
      const owner =
        lastDir && lastDir.path.replace(/\/+$/, '') === dir ? lastDir : { ...entry, path: dir, mode: 0o755 };
      yield marker(owner);
      continue;
    }
    skip = false;
    yield entryHeader(entry);
    if (entry.type === Type.dir) {
      lastDir = entry;
      if (opaque) {
        markedDir = entry.path.replace(/\/+$/, '');
        yield marker(entry);
      }
    }
  }
}
