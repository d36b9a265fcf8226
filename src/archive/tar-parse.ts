// A streaming tar reader: turns chunks of a tar stream into entries (with pax and GNU
// long names applied) followed by their data, without holding more than one chunk and
// one extended header in memory. Refuses what it does not understand rather than guess:
// a second header of one kind for one entry, pax records it does not know, sparse files.
import { escapeControl } from '../cli/text.js';
import { ArchiveError } from './archive-error.js';
import { canonicalPaxValue, isCanonicalBlock, PASSED_PAX_KEYS } from './canonical-header.js';
import { BLOCK, isZeroBlock, parseHeader, parsePax, type TarEntry, Type, XATTR_PREFIX } from './tar-header.js';

export type TarItem =
  /**
   * `block`: the entry's header blocks as read, when they are in the canonical form
   * (canonical-header.ts) and state its values and nothing else. Valid as long as data
   * items are.
   */
  { kind: 'entry'; entry: TarEntry; block?: Buffer } | { kind: 'data'; chunk: Buffer };

/** Extended headers larger than this are refused: real ones hold a path and a few xattrs. */
const MAX_META = 1 << 20;
/** Types whose size counts data blocks. Others must have size 0 (directories, links, ...). */
const WITH_DATA = new Set<string>([Type.file, Type.contiguous]);

/** Chunks not yet parsed. The head chunk is read from `offset` on, so taking a header makes one view, not two. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Up to `max` bytes, without copying when they lie in one chunk. */
  takeUpTo(max: number): Buffer {
    const first = this.chunks[0] as Buffer;
    const left = first.length - this.offset;
    if (left <= max) {
      this.chunks.shift();
      this.length -= left;
      const rest = this.offset === 0 ? first : first.subarray(this.offset);
      this.offset = 0;
      return rest;
    }
    const taken = first.subarray(this.offset, this.offset + max);
    this.offset += max;
    this.length -= max;
    return taken;
  }

  /** Copies what is left, so that the caller may reuse the buffers it pushed. */
  compact(): void {
    if (this.length === 0) this.clear();
    else {
      const head = this.chunks[0] as Buffer;
      this.chunks[0] = head.subarray(this.offset);
      this.chunks = [Buffer.concat(this.chunks, this.length)];
      this.offset = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.length = 0;
  }

  /** Exactly `size` bytes (the caller checked that they are there). */
  take(size: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.offset >= size) return this.takeUpTo(size);
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
  /** The records of the entry's pax header ('x'); at most one is accepted. */
  pax?: Map<string, Buffer>;
  /** The pax header blocks as read (header and padded data), when they are canonical. */
  paxBlocks?: Buffer[];
  paxCanonical: boolean;
  longName?: string;
  longLink?: string;
  /** Why the entry is refused once its name is known (two pax headers, ...). */
  problem?: string;
}

const nothingPending = (): Pending => ({ paxCanonical: true });

function isEmpty(pending: Pending): boolean {
  return pending.pax === undefined && pending.longName === undefined && pending.longLink === undefined;
}

/** True when the raw blocks of the entry state exactly its values, in the one form tar reads one way. */
function plainBlocks(entry: TarEntry, pending: Pending, global: Map<string, Buffer>, block: Buffer): boolean {
  if (pending.longName !== undefined || pending.longLink !== undefined || global.size > 0) return false;
  if (!isCanonicalBlock(block)) return false;
  if (pending.pax === undefined) return true;
  if (!pending.paxCanonical) return false;
  for (const [key, value] of pending.pax) {
    if (!PASSED_PAX_KEYS.has(key) || !canonicalPaxValue(key, value)) return false;
    if (value.toString('latin1') !== (key === 'path' ? entry.path : key === 'linkpath' ? entry.linkpath : entry.mtime))
      return false;
  }
  return true;
}

/**
 * pax records venv reads but does not restore: times tar does not set, owner names
 * (restore is --numeric-owner), comments, charsets (names are kept as bytes either way),
 * and metadata venv leaves out: ACLs, SELinux labels, libarchive's copy of the xattrs.
 */
const IGNORED_PAX =
  /^(atime|ctime|comment|charset|hdrcharset|uname|gname|SCHILY\.(dev|ino|nlink|devmajor|devminor|fflags)|SCHILY\.acl\..*|RHT\.security\..*|LIBARCHIVE\..*)$/;

function applyRecords(entry: TarEntry, records: Map<string, Buffer>): void {
  for (const [key, value] of records) {
    const text = value.toString('latin1');
    if (key === 'path') entry.path = text;
    else if (key === 'linkpath') entry.linkpath = text;
    else if (key === 'mtime') entry.mtime = checkedTime(text);
    else if (key === 'size' || key === 'uid' || key === 'gid') entry[key] = checkedNumber(key, text);
    else if (key.startsWith(XATTR_PREFIX)) entry.xattrs.set(key.slice(XATTR_PREFIX.length), value);
    else if (!IGNORED_PAX.test(key)) throw unknownRecord(key, `entry "${shown(entry.path)}"`);
  }
}

/** Applies the global header, then the entry's own GNU long names and pax header (pax wins, as in GNU tar). */
function applyMeta(entry: TarEntry, pending: Pending, global: Map<string, Buffer>): void {
  if (pending.problem !== undefined) {
    throw new ArchiveError(
      'ARCHIVE_INVALID',
      `refusing the archive: entry "${shown(entry.path)}" ${pending.problem}`,
      'tar and venv could read such an entry two ways; nothing was restored',
    );
  }
  applyRecords(entry, global);
  if (pending.longName !== undefined) entry.path = pending.longName;
  if (pending.longLink !== undefined) entry.linkpath = pending.longLink;
  if (pending.pax) applyRecords(entry, pending.pax);
}

/** Global records that change entries; the others (comment, ...) are only checked. */
const GLOBAL_KEYS = /^(mtime|uid|gid|SCHILY\.xattr\..*)$/;

function checkedGlobal(records: Map<string, Buffer>): Map<string, Buffer> {
  const kept = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (GLOBAL_KEYS.test(key)) kept.set(key, value);
    else if (key === 'path' || key === 'linkpath' || key === 'size')
      throw new ArchiveError('ARCHIVE_INVALID', `a global pax header sets ${key} for every entry`);
    else if (!IGNORED_PAX.test(key)) throw unknownRecord(key, 'a global pax header');
  }
  return kept;
}

function unknownRecord(key: string, where: string): ArchiveError {
  if (key.startsWith('GNU.sparse.'))
    return new ArchiveError('ARCHIVE_INVALID', `${where} is a sparse file (not supported)`);
  return new ArchiveError(
    'ARCHIVE_INVALID',
    `${where} has the pax record "${escapeControl(key.slice(0, 60))}", which venv does not know`,
  );
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

export interface ParserOptions {
  /**
   * Called with the bytes of the archive (decompressed) up to the end of each header's
   * data, before any of that data is emitted: it throws to stop a bomb before it expands.
   */
  budget?: (total: number, at: string) => void;
}

/**
 * A push parser: feed it chunks, it emits the entries and data they complete. Data items
 * point into the chunk just pushed; what it keeps between pushes it copies, so a caller
 * that has used the items may refill the same buffer. The first zero block ends the
 * archive; the bytes pushed after it are only counted (`trailing`).
 */
export class TarParser {
  private readonly queue = new ByteQueue();
  private global = new Map<string, Buffer>();
  /** The last `comment` of a global pax header (venv commit's notes: --live, the base). */
  comment: string | undefined;
  private pending: Pending = nothingPending();
  private metaBlock: Buffer | undefined;
  private state: 'header' | 'meta' | 'data' | 'padding' | 'end' = 'header';
  private meta: TarEntry | undefined;
  private left = 0;
  private padding = 0;
  /** Bytes of the archive up to the end of the last header's data. */
  private expanded = 0;
  /** Header blocks read, meta headers included. */
  headers = 0;
  /** Bytes pushed after the end of the archive. */
  trailing = 0;

  constructor(private readonly options: ParserOptions = {}) {}

  get ended(): boolean {
    return this.state === 'end';
  }

  push(chunk: Buffer, emit: (item: TarItem) => void): void {
    if (this.state === 'end') {
      this.trailing += chunk.length;
      return;
    }
    this.queue.push(chunk);
    while (this.step(emit));
    if (this.ended) {
      this.trailing += this.queue.length;
      this.queue.clear();
    } else this.queue.compact();
  }

  /** The stream is over: refuses one that stopped before the end marker. */
  end(): void {
    if (this.state !== 'end') throw truncated();
  }

  private charge(size: number, at: string): void {
    this.expanded += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    this.options.budget?.(this.expanded, at);
  }

  /** One step of the state machine; false when it needs more bytes. */
  private step(emit: (item: TarItem) => void): boolean {
    const queue = this.queue;
    switch (this.state) {
      case 'header': {
        if (queue.length < BLOCK) return false;
        const block = queue.take(BLOCK);
        if (isZeroBlock(block)) {
          if (!isEmpty(this.pending)) throw truncated();
          this.state = 'end';
          return false;
        }
        const header = parseHeader(block);
        this.headers += 1;
        if (META_TYPES.has(header.type)) {
          if (header.size > MAX_META) {
            throw new ArchiveError('ARCHIVE_INVALID', `an extended header of ${header.size} bytes`);
          }
          this.charge(header.size, 'an extended header');
          this.meta = header;
          this.metaBlock = header.type === Type.paxLocal ? Buffer.from(block) : undefined;
          this.state = 'meta';
          return true;
        }
        const entry: TarEntry = header;
        applyMeta(entry, this.pending, this.global);
        this.charge(entry.size, `entry "${shown(entry.path)}"`);
        let raw: Buffer | undefined;
        if (plainBlocks(entry, this.pending, this.global, block)) {
          // One ustar block alone is passed as it lies: a copy only when a pax header leads it.
          raw = this.pending.paxBlocks ? Buffer.concat([...this.pending.paxBlocks, block]) : block;
        }
        this.pending = nothingPending();
        if (!WITH_DATA.has(entry.type) && entry.size !== 0) {
          throw new ArchiveError(
            'ARCHIVE_INVALID',
            `entry "${shown(entry.path)}" of type '${entry.type}' carries data`,
          );
        }
        emit(raw ? { kind: 'entry', entry, block: raw } : { kind: 'entry', entry });
        this.left = entry.size;
        this.padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
        this.state = this.left > 0 ? 'data' : 'padding';
        return true;
      }
      case 'meta': {
        const meta = this.meta as TarEntry;
        const padded = Math.ceil(meta.size / BLOCK) * BLOCK;
        if (queue.length < padded) return false;
        // A copy: its values (xattrs) outlive the chunk they came in.
        const paddedData = Buffer.from(queue.take(padded));
        this.takeMeta(meta.type, paddedData, meta.size);
        this.state = 'header';
        return true;
      }
      case 'data': {
        if (queue.length === 0) return false;
        const chunk = queue.takeUpTo(this.left);
        this.left -= chunk.length;
        emit({ kind: 'data', chunk });
        if (this.left === 0) this.state = 'padding';
        return true;
      }
      case 'padding': {
        const skip = Math.min(this.padding, queue.length);
        if (skip > 0) queue.take(skip);
        this.padding -= skip;
        if (this.padding > 0) return false;
        this.state = 'header';
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * One extended header. Each entry may have at most one of each kind: GNU tar keeps only
   * the last pax header of several (the filter would have merged them), so a second one
   * is refused rather than read one way or the other.
   */
  private takeMeta(type: string, paddedData: Buffer, size: number): void {
    const pending = this.pending;
    const data = paddedData.subarray(0, size);
    const twice = (what: string) => {
      pending.problem ??= `has two ${what}`;
    };
    if (type === Type.paxLocal) {
      if (pending.pax) twice('pax extended headers');
      const { records, canonical } = parsePax(data);
      pending.pax = records;
      pending.paxCanonical = canonical && isCanonicalBlock(this.metaBlock as Buffer, true);
      pending.paxBlocks = [this.metaBlock as Buffer, paddedData];
    } else if (type === Type.paxGlobal) {
      if (!isEmpty(pending)) pending.problem ??= 'has a global pax header between its own extended headers';
      const { records } = parsePax(data);
      this.global = new Map([...this.global, ...checkedGlobal(records)]);
      const comment = records.get('comment');
      if (comment !== undefined) this.comment = comment.toString('utf8');
    } else if (type === Type.gnuLongName) {
      if (pending.longName !== undefined) twice('GNU long names');
      pending.longName = cString(data);
    } else {
      if (pending.longLink !== undefined) twice('GNU long link names');
      pending.longLink = cString(data);
    }
  }
}

const META_TYPES = new Set<string>([Type.paxLocal, Type.paxGlobal, Type.gnuLongName, Type.gnuLongLink]);

/** Reads a tar stream; ends at the first zero block (later bytes are read and ignored). */
export async function* parseTar(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<TarItem> {
  const iterator: AsyncIterator<Buffer> | Iterator<Buffer> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  const parser = new TarParser();
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const items: TarItem[] = [];
      parser.push(next.value, (item) => items.push(item));
      yield* items;
      // Read on to the end (tar pads archives to whole records): a decompressor that
      // still writes must not die of SIGPIPE, and it checks its own checksum at the end.
    }
    parser.end();
  } finally {
    // Stops (and for a stream, destroys) the source when the reader gives up early.
    await iterator.return?.();
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
