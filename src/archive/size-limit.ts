// How far a restore may expand. A small compressed archive can stand for terabytes (a
// zstd or gzip bomb), so the restore filter counts the archive's decompressed bytes as it
// reads each header, before the entry's data goes on to tar, and stops at a limit:
// --max-size, or else the free space of the filesystem that receives the env less a
// margin kept free for everything else on it.
import { formatBytes } from '../cli/format-bytes.js';
import { statfsSync } from 'node:fs';
import { ArchiveError } from './archive-error.js';
import { VenvError } from '../errors.js';

export interface SizeLimit {
  bytes: number;
  /** Where the limit comes from: the user's --max-size, or the free space. */
  source: 'max-size' | 'free-space';
  /** For free-space: the bytes kept free. */
  margin?: number;
}

/** The margin kept free: 5% of the filesystem, at most 1 GiB. */
export const MARGIN_SHARE = 0.05;
export const MARGIN_MAX = 1 << 30;

/** The default limit: what is free on `dir`'s filesystem for this user, less the margin. */
export function freeSpaceLimit(dir: string): SizeLimit {
  const stats = statfsSync(dir);
  const margin = Math.min(MARGIN_MAX, Math.floor(stats.blocks * stats.bsize * MARGIN_SHARE));
  return { bytes: Math.max(0, stats.bavail * stats.bsize - margin), source: 'free-space', margin };
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "4096", "500K", "10M", "1.5G", "2T" (powers of 1024; "MiB" and "MB" read the same). */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = match ? Math.floor(Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? NaN)) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new VenvError('USAGE', `--max-size expects a size such as 500M or 2G, got "${text}"`, {
      hint: 'sizes are in bytes, or with K, M, G or T (powers of 1024)',
    });
  }
  return bytes;
}

/** A budget for TarParser: throws once the archive expands past the limit. */
export function budget(limit: SizeLimit): (total: number, at: string) => void {
  return (total, at) => {
    if (total > limit.bytes) throw tooLarge(limit, at);
  };
}

function tooLarge(limit: SizeLimit, at: string): ArchiveError {
  if (limit.source === 'max-size') {
    return new ArchiveError(
      'ARCHIVE_TOO_LARGE',
      `refusing the archive: it expands past --max-size ${formatBytes(limit.bytes)} (at ${at})`,
      'give a larger --max-size if you trust the archive; nothing was restored',
    );
  }
  return new ArchiveError(
    'ARCHIVE_TOO_LARGE',
    `refusing the archive: no space left for it on the device that holds VENV_HOME (at ${at}, ` +
      `past the ${formatBytes(limit.bytes)} free there once ${formatBytes(limit.margin ?? 0)} is kept free)`,
    'free some space there, or set the limit yourself with --max-size SIZE; nothing was restored',
  );
}
