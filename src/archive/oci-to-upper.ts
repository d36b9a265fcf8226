// The restore filter: reads an untrusted OCI layer and writes a clean tar of an overlay
// upper dir for GNU tar to extract. Every entry is checked before any byte of it goes
// on, and every header is written anew from the checked values, so tar never sees a
// field venv did not look at. OCI markers become what the overlay reads:
//   .wh.NAME      -> a 0/0 character device NAME (created in the user namespace)
//   .wh..wh..opq  -> kept as is for fuse-overlayfs, which reads it; for the kernel's
//                    overlayfs, the xattr it reads (backends/backend.ts: opaqueXattr) = y on the dir
// Later entries replace earlier ones, as in moby's layer applier: a whiteout after a
// file of the same name in one layer deletes it, a file after its whiteout wins.
import { ArchiveError } from './archive-error.js';
import { ancestors, checkSymlink, hardlinkTarget, memberPath, unsafeEntry, whiteoutName } from './path-safety.js';
import { type TarEntry, Type } from './tar-header.js';
import { shown, type TarItem } from './tar-parse.js';
import { endOfArchive, entryHeader, padding } from './tar-write.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './upper-walk.js';

export interface OciToUpperOptions {
  /** The xattr that marks an opaque dir for the env's backend; none: keep the OCI marker file. */
  opaqueXattr: string | undefined;
  /** Ids above this cannot be owned in the env: they are written as 0. */
  maxId: number;
  /**
   * Leave device nodes out instead of refusing the archive: a base's root file system
   * (bases/import-base.ts) often has /dev filled in, and an env binds the host's /dev anyway.
   */
  dropDevices?: boolean;
}

export interface ExtractStats {
  entries: number;
  bytes: number;
  /** The base the archive was made on (an env on a base: base-note.ts). */
  base?: { id: string; digest: string };
}

/** xattrs restored: the ones that matter to programs, never the overlay's own. */
export function keptXattr(name: string): boolean {
  if (name === 'security.capability') return true;
  return name.startsWith('user.') && !/^user\.(overlay|fuseoverlayfs)\./.test(name);
}

const join = (dir: string, base: string) => (dir === '' ? base : `${dir}/${base}`);

function splitPath(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? { dir: '', base: path } : { dir: path.slice(0, slash), base: path.slice(slash + 1) };
}

/** The filter itself, fed one item at a time (see restore-filter.ts for the loop). */
export class OciToUpper {
  private readonly symlinks = new Set<string>();
  // Entries come directory by directory: the last directory found free of symlinks.
  private checkedDir: string | undefined;
  private checkedCount = 0;
  private lastDir: TarEntry | undefined;
  private skip = false;
  private left = 0;
  private size = 0;

  constructor(
    private readonly options: OciToUpperOptions,
    readonly stats: ExtractStats = { entries: 0, bytes: 0 },
  ) {}

  private throughSymlink(path: string): string | undefined {
    const symlinks = this.symlinks;
    if (symlinks.size === 0) return undefined;
    const slash = path.lastIndexOf('/');
    const dir = slash === -1 ? '' : path.slice(0, slash);
    if (dir === this.checkedDir && symlinks.size === this.checkedCount) return undefined;
    const found = ancestors(path).find((above) => symlinks.has(above));
    if (!found) [this.checkedDir, this.checkedCount] = [dir, symlinks.size];
    return found;
  }

  /** The end of the archive. */
  end(emit: (buffer: Buffer) => void): void {
    emit(endOfArchive());
  }

  item(item: TarItem, emit: (buffer: Buffer) => void): void {
    const { options, stats, symlinks } = this;
    const id = (value: number) => (value > options.maxId ? 0 : value);
    if (item.kind === 'data') {
      this.left -= item.chunk.length;
      if (this.skip) return;
      stats.bytes += item.chunk.length;
      emit(item.chunk);
      if (this.left === 0) emit(padding(this.size));
      return;
    }
    const raw = item.entry;
    // The entry's own header, when writing it anew would give the same values: most
    // entries of most layers. Building a header costs more than the rest of the filter.
    const header = (clean: TarEntry) => (item.block && sameValues(raw, clean) ? item.block : entryHeader(clean));
    this.size = this.left = raw.size;
    this.skip = true;
    const path = memberPath(raw.path);
    if (path === '') {
      if (raw.type !== Type.dir) throw unsafeEntry(raw.path, 'names the root of the tree but is not a directory');
      return;
    }
    const via = this.throughSymlink(path);
    if (via !== undefined) throw unsafeEntry(raw.path, `would be written through the symlink "${shown(via)}"`);
    if (symlinks.has(path)) throw unsafeEntry(raw.path, 'replaces a symlink that the archive made earlier');
    stats.entries += 1;
    const clean: TarEntry = {
      path,
      type: raw.type,
      mode: raw.mode & 0o7777,
      uid: id(raw.uid),
      gid: id(raw.gid),
      size: 0,
      mtime: raw.mtime,
      linkpath: '',
      devmajor: 0,
      devminor: 0,
      xattrs: raw.xattrs.size === 0 ? raw.xattrs : new Map([...raw.xattrs].filter(([name]) => keptXattr(name))),
    };
    const { dir, base } = splitPath(path);
    if (dir.includes(WHITEOUT_PREFIX)) {
      // AUFS keeps its metadata below .wh..wh.* directories (.wh..wh.plnk): not for an overlay.
      if (/(^|\/)\.wh\.\.wh\./.test(dir)) return;
      if (/(^|\/)\.wh\./.test(dir)) throw unsafeEntry(raw.path, 'is below a whiteout');
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless to an overlay, whatever its type.
      if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`) && base !== OPAQUE_MARKER) return;
      // A marker is an empty regular file: a link, a directory or data named so means
      // something no OCI tool writes, and would reach tar as something else than checked.
      if ((raw.type !== Type.file && raw.type !== Type.contiguous) || raw.size !== 0)
        throw notAMarker(raw, base === OPAQUE_MARKER ? 'opaque marker' : 'whiteout');
    }
    switch (raw.type) {
      case Type.file:
      case Type.contiguous:
        clean.type = Type.file;
        if (base === OPAQUE_MARKER) {
          emit(opaqueMarker(clean, dir, this.lastDir, options.opaqueXattr));
        } else if (base.startsWith(WHITEOUT_PREFIX)) {
          const target = join(dir, whiteoutName(raw.path, base.slice(WHITEOUT_PREFIX.length)));
          emit(entryHeader({ ...clean, path: target, type: Type.chardev, mode: 0, xattrs: new Map() }));
        } else {
          clean.size = raw.size;
          this.skip = false;
          emit(header(clean)); // a contiguous file ('7') becomes '0': never the same values
          if (raw.size === 0) this.skip = true;
        }
        break;
      case Type.hardlink: {
        const target = hardlinkTarget(path, raw.linkpath);
        // A marker is never extracted under its own name: the link would have nothing to point to.
        if (splitPath(target).base.startsWith(WHITEOUT_PREFIX))
          throw unsafeEntry(raw.path, `is a hardlink to the whiteout marker "${shown(target)}"`);
        for (const above of [...ancestors(target), target]) {
          if (symlinks.has(above)) throw unsafeEntry(raw.path, `is a hardlink through the symlink "${shown(above)}"`);
        }
        emit(header({ ...clean, linkpath: target }));
        break;
      }
      case Type.symlink:
        checkSymlink(path, raw.linkpath);
        symlinks.add(path);
        emit(header({ ...clean, linkpath: raw.linkpath }));
        break;
      case Type.dir:
        this.lastDir = clean;
        emit(header(clean));
        break;
      case Type.fifo:
        emit(entryHeader(clean));
        break;
      case Type.chardev:
      case Type.blockdev:
        if (options.dropDevices) {
          stats.entries -= 1;
          return;
        }
        throw new ArchiveError(
          'ARCHIVE_UNSAFE_ENTRY',
          `refusing the archive: entry "${shown(raw.path)}" is a device node`,
          'an env cannot hold device nodes; nothing was restored',
        );
      default:
        throw new ArchiveError('ARCHIVE_INVALID', `entry "${shown(raw.path)}" has an unsupported type '${raw.type}'`);
    }
  }
}

/**
 * True when the checked entry has exactly the values of the raw one, so that the raw
 * ustar block says what entryHeader(clean) would. Its other fields are ones GNU tar does
 * not use here: owner names (--numeric-owner), device numbers (required 0 anyway).
 */
function sameValues(raw: TarEntry, clean: TarEntry): boolean {
  return (
    samePath(raw, clean) &&
    raw.type === clean.type &&
    raw.mode === clean.mode &&
    raw.uid === clean.uid &&
    raw.gid === clean.gid &&
    raw.size === clean.size &&
    raw.mtime === clean.mtime &&
    raw.linkpath === clean.linkpath &&
    raw.devmajor === 0 &&
    raw.devminor === 0 &&
    raw.xattrs.size === 0 &&
    clean.xattrs.size === 0
  );
}

/** GNU tar writes directories as "dir/" and reads them back as "dir": the same path. */
function samePath(raw: TarEntry, clean: TarEntry): boolean {
  if (raw.path === clean.path) return true;
  return (
    raw.type === Type.dir &&
    raw.path.length === clean.path.length + 1 &&
    raw.path.endsWith('/') &&
    raw.path.startsWith(clean.path)
  );
}

export async function* ociToUpper(
  items: AsyncIterable<TarItem>,
  options: OciToUpperOptions,
  stats: ExtractStats = { entries: 0, bytes: 0 },
): AsyncGenerator<Buffer> {
  const filter = new OciToUpper(options, stats);
  for await (const item of items) {
    const out: Buffer[] = [];
    filter.item(item, (buffer) => out.push(buffer));
    yield* out;
  }
  const out: Buffer[] = [];
  filter.end((buffer) => out.push(buffer));
  yield* out;
}

const TYPE_NAMES: Record<string, string> = {
  [Type.file]: 'a regular file with data',
  [Type.contiguous]: 'a regular file with data',
  [Type.hardlink]: 'a hardlink',
  [Type.symlink]: 'a symlink',
  [Type.dir]: 'a directory',
  [Type.fifo]: 'a fifo',
  [Type.chardev]: 'a device node',
  [Type.blockdev]: 'a device node',
};

function notAMarker(raw: TarEntry, what: string): ArchiveError {
  const is = TYPE_NAMES[raw.type] ?? `of type '${raw.type}'`;
  return new ArchiveError(
    'ARCHIVE_UNSAFE_ENTRY',
    `refusing the archive: entry "${shown(raw.path)}" is named as a ${what} but is ${is}, not an empty regular file`,
    'OCI markers are empty regular files; nothing was restored',
  );
}

function opaqueMarker(marker: TarEntry, dir: string, lastDir: TarEntry | undefined, xattr: string | undefined): Buffer {
  // An opaque root would hide the whole host from the env.
  if (dir === '') throw unsafeEntry(marker.path, 'makes the root of the tree opaque');
  if (xattr === undefined) return entryHeader({ ...marker, size: 0, xattrs: new Map() });
  // The kernel reads only the xattr: write the directory again, with it.
  const owner = lastDir?.path === dir ? lastDir : { ...marker, path: dir, type: Type.dir, mode: 0o755 };
  const xattrs = new Map(owner.xattrs).set(xattr, Buffer.from('y'));
  return entryHeader({ ...owner, type: Type.dir, xattrs });
}
