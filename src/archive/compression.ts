// Compression of archives: the programs that do it, and telling which one a stream needs
// from its first bytes (never from the file name).
import { findProgram } from '../host/host-checks.js';
import { VenvError } from '../errors.js';
import { ArchiveError } from './archive-error.js';

export type Compression = 'zstd' | 'gzip' | 'none';
export const COMPRESSIONS: readonly Compression[] = ['zstd', 'gzip', 'none'];

export const EXTENSIONS: Record<Compression, string> = { zstd: '.tar.zst', gzip: '.tar.gz', none: '.tar' };

/** The bytes needed to tell the formats apart: the ustar magic sits at offset 257. */
export const SNIFF_BYTES = 265;

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  const magic = head.subarray(257, 263).toString('latin1');
  if (magic === 'ustar\0' || magic === 'ustar ') return 'none';
  // An empty archive is nothing but its end marker: zero blocks.
  if (head.length >= SNIFF_BYTES && head.subarray(0, SNIFF_BYTES).every((byte) => byte === 0)) return 'none';
  let what = 'not a tar archive';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') what = 'bzip2-compressed';
  else if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) what = 'xz-compressed';
  else if (head.length === 0) what = 'empty';
  throw new ArchiveError(
    'ARCHIVE_INVALID',
    `the archive is ${what}`,
    'venv reads tar archives compressed with zstd or gzip, or not compressed',
  );
}

function need(program: string, pkg: string): string {
  const path = findProgram(program);
  if (!path) {
    throw new VenvError('TOOL_MISSING', `${program} is not installed`, { hint: `sudo apt-get install ${pkg}` });
  }
  return path;
}

/** argv of a filter that compresses stdin to stdout; undefined for none. */
export function compressor(compression: Compression): string[] | undefined {
  if (compression === 'zstd') return [need('zstd', 'zstd'), '-T0', '-q', '-c'];
  // -n: no name or time stamp in the gzip header, so the same tar gives the same bytes.
  if (compression === 'gzip') return findProgram('pigz') ? ['pigz', '-n', '-c'] : [need('gzip', 'gzip'), '-n', '-c'];
  return undefined;
}

/** argv of a filter that decompresses stdin to stdout; undefined for none. */
export function decompressor(compression: Compression): string[] | undefined {
  if (compression === 'zstd') return [need('zstd', 'zstd'), '-d', '-q', '-c'];
  if (compression === 'gzip') return [need('gzip', 'gzip'), '-d', '-c'];
  return undefined;
}
