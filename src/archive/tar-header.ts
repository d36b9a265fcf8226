// Tar headers: parsing one 512-byte ustar block and pax records, and writing an entry
// back as (pax header +) ustar header. Paths are kept as latin1 strings, which map bytes
// one to one, so names that are not UTF-8 survive a round trip unchanged.
import { ArchiveError } from './archive-error.js';

export const BLOCK = 512;

/** Typeflags venv reads or writes. */
export const Type = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
  contiguous: '7',
  paxLocal: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
} as const;

export interface TarEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch as a decimal string: pax keeps nanoseconds ("1700000000.5"). */
  mtime: string;
  linkpath: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes by name (pax SCHILY.xattr.*), raw values. */
  xattrs: Map<string, Buffer>;
}

/** A ustar block as found in the stream, before pax or GNU long names apply. */
export interface RawHeader extends TarEntry {
  /** The ustar name field with its prefix, as written. */
  rawPath: string;
}

function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('latin1');
}

function number(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte set; negative values refused.
    if ((field[0] ?? 0) & 0x40) throw new ArchiveError('ARCHIVE_INVALID', `negative ${what} in a tar header`);
    let value = (field[0] ?? 0) & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + (field[i] ?? 0);
    if (!Number.isSafeInteger(value)) throw new ArchiveError('ARCHIVE_INVALID', `${what} out of range in a tar header`);
    return value;
  }
  const digits = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits))
    throw new ArchiveError('ARCHIVE_INVALID', `malformed ${what} "${digits}" in a tar header`);
  return parseInt(digits, 8);
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
  return sum;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses a ustar (or GNU) header block; refuses a bad checksum or an unknown magic. */
export function parseHeader(block: Buffer): RawHeader {
  const magic = block.subarray(257, 265).toString('latin1');
  if (magic !== 'ustar\x0000' && magic !== 'ustar  \0') {
    throw new ArchiveError(
      'ARCHIVE_INVALID',
      'not a tar archive, or a corrupt one (no ustar header where one belongs)',
    );
  }
  if (number(block, 148, 8, 'checksum') !== checksum(block)) {
    throw new ArchiveError('ARCHIVE_INVALID', 'corrupt tar header (checksum mismatch)');
  }
  const name = text(block, 0, 100);
  const prefix = magic.startsWith('ustar\0') ? text(block, 345, 155) : '';
  const rawPath = prefix ? `${prefix}/${name}` : name;
  return {
    rawPath,
    path: rawPath,
    type: String.fromCharCode(block[156] || 0x30),
    mode: number(block, 100, 8, 'mode'),
    uid: number(block, 108, 8, 'uid'),
    gid: number(block, 116, 8, 'gid'),
    size: number(block, 124, 12, 'size'),
    mtime: String(number(block, 136, 12, 'mtime')),
    linkpath: text(block, 157, 100),
    devmajor: number(block, 329, 8, 'devmajor'),
    devminor: number(block, 337, 8, 'devminor'),
    xattrs: new Map(),
  };
}

/** Parses pax records ("LEN key=value\n"); values stay raw bytes (xattrs may be binary). */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding
    const space = data.indexOf(0x20, at);
    const length = space > at ? Number(data.subarray(at, space).toString('latin1')) : NaN;
    if (
      !Number.isInteger(length) ||
      length <= space - at ||
      at + length > data.length ||
      data[at + length - 1] !== 0x0a
    ) {
      throw new ArchiveError('ARCHIVE_INVALID', 'corrupt pax extended header');
    }
    const record = data.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw new ArchiveError('ARCHIVE_INVALID', 'corrupt pax record (no key)');
    records.set(record.subarray(0, equals).toString('utf8'), record.subarray(equals + 1));
    at += length;
  }
  return records;
}

export const XATTR_PREFIX = 'SCHILY.xattr.';
