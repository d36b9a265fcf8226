// Writing tar entries: a pax extended header when a value does not fit ustar (long or
// non-ASCII paths, sub-second mtimes, xattrs, big sizes), then the ustar header. The same
// entry always gives the same bytes, which is what makes commits reproducible.
import { BLOCK, byteSum, type TarEntry, Type, XATTR_PREFIX } from './tar-header.js';

const ZEROS = Buffer.alloc(BLOCK * 2);
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts its own digits.
  let length = body.length + 1;
  while (String(length).length + body.length > length) length += 1;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

function putText(block: Buffer, value: string, offset: number, length: number): void {
  if (value !== '') block.write(value, offset, length, 'latin1');
}

/** `length - 1` octal digits, zero-padded, then NUL (the value must fit). */
function putOctal(block: Buffer, value: number, offset: number, length: number): void {
  let rest = value;
  for (let i = offset + length - 2; i >= offset; i--) {
    block[i] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
  block[offset + length - 1] = 0;
}

/** True when every character is printable ASCII (fits a ustar field as is). */
function plainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

function fitsOctal(value: number, length: number): boolean {
  return value >= 0 && value < 8 ** (length - 1);
}

/** Splits a path into ustar prefix and name, or undefined when it does not fit. */
function splitUstar(path: string): [string, string] | undefined {
  if (!plainAscii(path)) return undefined;
  if (path.length <= 100) return ['', path];
  for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
    if (cut <= 155 && path.length - cut - 1 <= 100 && cut > 0) return [path.slice(0, cut), path.slice(cut + 1)];
  }
  return undefined;
}

function ustarBlock(entry: TarEntry, name: string, prefix: string, type: string, size: number, mtime: number): Buffer {
  const block = Buffer.allocUnsafe(BLOCK).fill(0);
  putText(block, name, 0, 100);
  putOctal(block, entry.mode & 0o7777, 100, 8);
  putOctal(block, fitsOctal(entry.uid, 8) ? entry.uid : 0, 108, 8);
  putOctal(block, fitsOctal(entry.gid, 8) ? entry.gid : 0, 116, 8);
  putOctal(block, fitsOctal(size, 12) ? size : 0, 124, 12);
  putOctal(block, fitsOctal(mtime, 12) ? mtime : 0, 136, 12);
  block.write(type, 156, 1, 'latin1');
  putText(block, type === Type.paxLocal ? '' : entry.linkpath, 157, 100);
  USTAR_MAGIC.copy(block, 257);
  putOctal(block, entry.devmajor, 329, 8);
  putOctal(block, entry.devminor, 337, 8);
  putText(block, prefix, 345, 155);
  block.fill(0x20, 148, 156);
  putOctal(block, byteSum(block), 148, 7);
  return block;
}

/** The header blocks (pax + ustar) for an entry; the caller writes its data and padding. */
export function entryHeader(entry: TarEntry): Buffer {
  const records: Buffer[] = [];
  const split = splitUstar(entry.path);
  if (!split) records.push(paxRecord('path', Buffer.from(entry.path, 'latin1')));
  if (entry.linkpath.length > 100 || !plainAscii(entry.linkpath)) {
    records.push(paxRecord('linkpath', Buffer.from(entry.linkpath, 'latin1')));
  }
  const seconds = Math.floor(Number(entry.mtime));
  if (!/^\d+$/.test(entry.mtime) || !fitsOctal(seconds, 12)) records.push(paxRecord('mtime', Buffer.from(entry.mtime)));
  if (!fitsOctal(entry.size, 12)) records.push(paxRecord('size', Buffer.from(String(entry.size))));
  if (!fitsOctal(entry.uid, 8)) records.push(paxRecord('uid', Buffer.from(String(entry.uid))));
  if (!fitsOctal(entry.gid, 8)) records.push(paxRecord('gid', Buffer.from(String(entry.gid))));
  if (entry.xattrs.size > 0) {
    for (const [name, value] of [...entry.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      records.push(paxRecord(XATTR_PREFIX + name, value));
    }
  }
  const [prefix, name] = split ?? ['', paxName(entry.path)];
  const header = ustarBlock(entry, name, prefix, entry.type, entry.size, Math.max(0, seconds));
  if (records.length === 0) return header;
  const pax = Buffer.concat(records);
  const paxHeader = ustarBlock(
    { ...entry, mode: 0o644, uid: 0, gid: 0, linkpath: '', devmajor: 0, devminor: 0 },
    `PaxHeaders/${paxName(entry.path)}`.slice(0, 100),
    '',
    Type.paxLocal,
    pax.length,
    Math.max(0, seconds),
  );
  return Buffer.concat([paxHeader, pax, padding(pax.length), header]);
}

/** A short ASCII stand-in for the real path, for readers that ignore pax. */
function paxName(path: string): string {
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  return base.replace(/[^\x20-\x7e]/g, '_').slice(0, 80) || 'entry';
}

/** Zero bytes that round `size` up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - rest);
}

/** Two zero blocks: the end of an archive. */
export function endOfArchive(): Buffer {
  return ZEROS;
}
