// The restore filter as a process: `node restore-filter.js JSON`, stdin the decompressed
// archive, stdout GNU tar's stdin (see extract-layer.ts). Blocking reads and writev on
// plain pipes with one reused buffer: the gigabytes of file data that pass through cost
// little more than a copy, where node's streams would cost as much again as the filter.
// It stops reading at the end of the archive, allowing at most MAX_TRAILER bytes after
// it (tar pads archives to whole records): a valid archive followed by gigabytes of
// anything is not read to the end, and a stream with no archive in it fails at once.
// Reports on stderr, last line:
//   venv-filter ok ENTRIES BYTES        or        venv-filter error CODE<TAB>MESSAGE<TAB>HINT
import { readSync, writevSync } from 'node:fs';
import { VenvError } from '../errors.js';
import { ArchiveError } from './archive-error.js';
import { OciToUpper, type OciToUpperOptions } from './oci-to-upper.js';
import { budget, type SizeLimit } from './size-limit.js';
import { TarParser } from './tar-parse.js';
import { baseOfNote } from './base-note.js';

export interface FilterOptions extends OciToUpperOptions {
  limit?: SizeLimit;
}

/**
 * Bytes read after the end-of-archive block, at most. tar pads to a record (10 KiB by
 * default, 64 KiB from venv commit, up to 1 MiB from some tools); what follows is not read.
 */
export const MAX_TRAILER = 1 << 20;

function readChunk(buffer: Buffer): number {
  for (;;) {
    try {
      return readSync(0, buffer, 0, buffer.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

/** writev takes at most IOV_MAX (1024) buffers at once. */
const IOV_MAX = 1024;

function writeAll(buffers: Buffer[]): void {
  for (let at = 0; at < buffers.length; at += IOV_MAX) writeSome(buffers.slice(at, at + IOV_MAX));
}

function writeSome(buffers: Buffer[]): void {
  let pending = buffers;
  while (pending.length > 0) {
    let written = writevSync(1, pending);
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        rest.push(buffer.subarray(written));
        written = 0;
      }
    }
    pending = rest;
  }
}

export function restoreFilter(options: FilterOptions): { entries: number; bytes: number } {
  const parser = new TarParser({ budget: options.limit && budget(options.limit) });
  const filter = new OciToUpper(options);
  const buffer = Buffer.allocUnsafe(1 << 20);
  let out: Buffer[] = [];
  const emit = (piece: Buffer) => {
    if (piece.length > 0) out.push(piece);
  };
  for (let length = readChunk(buffer); length > 0; length = readChunk(buffer)) {
    // Everything pushed is written before the buffer is filled again: data items point into it.
    parser.push(buffer.subarray(0, length), (item) => filter.item(item, emit));
    if (out.length > 0) writeAll(out);
    out = [];
    if (parser.trailing > MAX_TRAILER) {
      // An archive of nothing is a few zero blocks: a stream of zeros (/dev/zero) is not one.
      if (parser.headers === 0) {
        throw new ArchiveError(
          'ARCHIVE_INVALID',
          'not a tar archive: over 1 MiB of zero bytes and no entry',
          'venv reads tar archives compressed with zstd or gzip, or not compressed',
        );
      }
      break;
    }
  }
  parser.end();
  filter.end(emit);
  writeAll(out);
  // An archive of an env on a base names it (commands/commit.ts): restore needs it stored.
  const base = parser.comment === undefined ? undefined : baseOfNote(parser.comment);
  if (base) process.stderr.write(`venv-base ${base}\n`);
  return filter.stats;
}

if (process.argv[1]?.endsWith('restore-filter.js')) {
  try {
    const stats = restoreFilter(JSON.parse(process.argv[2] ?? '{}') as FilterOptions);
    process.stderr.write(`venv-filter ok ${stats.entries} ${stats.bytes}\n`);
  } catch (error) {
    const code = error instanceof VenvError ? error.code : 'IO_FAILED';
    const hint = error instanceof VenvError ? (error.hint ?? '') : '';
    const message = ((error as Error).message ?? String(error)).replace(/[\t\n]/g, ' ');
    process.stderr.write(`venv-filter error ${code}\t${message}\t${hint}\n`);
    process.exitCode = 1;
  }
}
