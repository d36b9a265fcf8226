// A streaming tar reader: turns chunks of a tar stream into entries (with pax and GNU
// long names applied) followed by their data, without holding more than one chunk and
// one extended header in memory. Refuses what it does not understand rather than guess.
import { escapeControl } from '../text.js';
import { ArchiveError } from './archive-error.js';
import { BLOCK, isZeroBlock, parseHeader, parsePax, type TarEntry, Type, XATTR_PREFIX } from './tar-header.js';

export type TarItem = { kind: 'entry'; entry: TarEntry } | { kind: 'data'; chunk: Buffer };

/** Extended headers larger than this are refused: real ones hold a path and a few xattrs. */
const MAX_META = 1 << 20;
/** Types whose size counts data blocks. Others must have size 0 (directories, links, ...). */
const WITH_DATA = new Set<string>([Type.file, Type.contiguous]);

class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Up to `max` bytes, without copying when they lie in one chunk. */
  takeUpTo(max: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length <= max) {
      this.chunks.shift();
      this.length -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.length -= max;
    return first.subarray(0, max);
  }

  /** Exactly `size` bytes (the caller checked that they are there). */
  take(size: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= size) return this.takeUpTo(size);
    const parts: Buffer[] = [];
    let left = size;
    while (left > 0) {
      const part = this.takeUpTo(left);
      parts.push(part);
      left -= part.length;
    }
    return Buffer.concat(parts, size);
  }
}

interface Pending {
  pax: Map<string, Buffer>;
  longName?: string;
  longLink?: string;
}

function applyMeta(entry: TarEntry, pending: Pending, global: Map<string, Buffer>): void {
  if (pending.longName !== undefined) entry.path = pending.longName;
  if (pending.longLink !== undefined) entry.linkpath = pending.longLink;
  for (const records of [global, pending.pax]) {
    for (const [key, value] of records) {
      const text = value.toString('latin1');
      if (key === 'path') entry.path = text;
      else if (key === 'linkpath') entry.linkpath = text;
      else if (key === 'mtime') entry.mtime = checkedTime(text);
      else if (key === 'size' || key === 'uid' || key === 'gid') entry[key] = checkedNumber(key, text);
      else if (key.startsWith(XATTR_PREFIX)) entry.xattrs.set(key.slice(XATTR_PREFIX.length), value);
      else if (key.startsWith('GNU.sparse.'))
        throw new ArchiveError('ARCHIVE_INVALID', 'sparse files are not supported');
      // atime, ctime, comment, charset, hdrcharset, uname, gname, ...: not needed.
    }
  }
}

function checkedNumber(key: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new ArchiveError('ARCHIVE_INVALID', `malformed pax ${key} "${text.slice(0, 40)}"`);
  }
  return value;
}

function checkedTime(text: string): string {
  if (!/^-?\d{1,15}(\.\d{1,9})?$/.test(text))
    throw new ArchiveError('ARCHIVE_INVALID', `malformed pax mtime "${text}"`);
  return text;
}

/** Reads a tar stream; ends at the first zero block (later bytes are read and ignored). */
export async function* parseTar(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<TarItem> {
  const iterator: AsyncIterator<Buffer> | Iterator<Buffer> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  try {
    yield* parseFrom(iterator);
  } finally {
    // Stops (and for a stream, destroys) the source when the reader gives up early.
    await iterator.return?.();
  }
}

async function* parseFrom(iterator: AsyncIterator<Buffer> | Iterator<Buffer>): AsyncGenerator<TarItem> {
  const queue = new ByteQueue();
  const fill = async (size: number): Promise<boolean> => {
    while (queue.length < size) {
      const next = await iterator.next();
      if (next.done) return false;
      queue.push(next.value);
    }
    return true;
  };
  const global = new Map<string, Buffer>();
  let pending: Pending = { pax: new Map() };
  for (;;) {
    if (!(await fill(BLOCK))) throw truncated();
    const block = queue.take(BLOCK);
    if (isZeroBlock(block)) {
      if (pending.pax.size > 0 || pending.longName !== undefined) throw truncated();
      // Read on to the end (tar pads archives to whole records): a decompressor that
      // still writes must not die of SIGPIPE, and it checks its own checksum at the end.
      while (!(await iterator.next()).done);
      return;
    }
    const header = parseHeader(block);
    const meta = [Type.paxLocal, Type.paxGlobal, Type.gnuLongName, Type.gnuLongLink].includes(header.type as 'x');
    if (meta) {
      if (header.size > MAX_META)
        throw new ArchiveError('ARCHIVE_INVALID', `an extended header of ${header.size} bytes`);
      const padded = Math.ceil(header.size / BLOCK) * BLOCK;
      if (!(await fill(padded))) throw truncated();
      const data = queue.take(padded).subarray(0, header.size);
      if (header.type === Type.paxLocal) for (const [k, v] of parsePax(data)) pending.pax.set(k, v);
      else if (header.type === Type.paxGlobal) for (const [k, v] of parsePax(data)) global.set(k, v);
      else if (header.type === Type.gnuLongName) pending.longName = cString(data);
      else pending.longLink = cString(data);
      if (global.has('path') || global.has('linkpath')) {
        throw new ArchiveError('ARCHIVE_INVALID', 'a global pax header that sets a path');
      }
      continue;
    }
    const entry: TarEntry = header;
    applyMeta(entry, pending, global);
    pending = { pax: new Map() };
    if (!WITH_DATA.has(entry.type) && entry.size !== 0) {
      throw new ArchiveError('ARCHIVE_INVALID', `entry "${shown(entry.path)}" of type '${entry.type}' carries data`);
    }
    yield { kind: 'entry', entry };
    let left = entry.size;
    while (left > 0) {
      if (queue.length === 0 && !(await fill(1))) throw truncated();
      const chunk = queue.takeUpTo(left);
      left -= chunk.length;
      yield { kind: 'data', chunk };
    }
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad > 0) {
      if (!(await fill(pad))) throw truncated();
      queue.take(pad);
    }
  }
}

function cString(data: Buffer): string {
  const end = data.indexOf(0);
  return data.subarray(0, end === -1 ? data.length : end).toString('latin1');
}

function truncated(): ArchiveError {
  return new ArchiveError('ARCHIVE_INVALID', 'the archive is truncated (it ends in the middle of an entry)');
}

/** A path for messages: decoded as UTF-8 where it is, control characters escaped. */
export function shown(path: string): string {
  return escapeControl(Buffer.from(path, 'latin1').toString('utf8'));
}
