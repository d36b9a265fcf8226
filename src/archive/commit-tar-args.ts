// The GNU tar command line of a commit (see commit-worker.ts for what it is fed).
import type { CommitWorkerOptions } from './commit-worker.js';
import { type Compression, compressor } from './compression.js';
import { withWidePipes } from './wide-pipes.js';

/**
 * The size of tar's records: tar reads each file and writes the archive at most a record
 * at a time, so its default of 10 KiB costs a read and a write call per 10 KiB. With
 * 64 KiB records, tar and zstd took 1.4 s less CPU and 0.9 s less time on 2 cores for
 * 1.3 GB in 114,000 entries (docs/archive-format.md#speed). Not more: the archive ends
 * padded to a whole record, and a reader that stops at the end-of-archive blocks (GNU
 * tar, Python's tarfile) leaves that padding unread; up to 64 KiB of it fits in a pipe,
 * more makes the decompressor feeding such a reader fail with a broken pipe. An uncompressed archive keeps tar's
 * 10 KiB, so that a small env's .tar stays small.
 */
export function recordBytes(compression: Compression): number {
  return compression === 'none' ? 10 << 10 : 64 << 10;
}

/** Progress is reported every this many bytes of tar (tar counts it in records). */
const PROGRESS_BYTES = 10 << 20;

/** An escaped basic regular expression that matches `text` literally. */
function literal(text: string): string {
  return text.replace(/[\\.*[\]^$,]/g, '\\$&');
}

/**
 * argv as one command line for tar's --use-compress-program, which splits it into words
 * like a shell (quotes honoured, $VARIABLES expanded outside single quotes).
 */
export function commandLine(argv: string[]): string {
  return argv
    .map((arg) => {
      if (/^[\w./=+-]+$/.test(arg)) return arg;
      if (arg.includes("'")) throw new Error(`cannot quote ${arg} for tar`);
      return `'${arg}'`;
    })
    .join(' ');
}

export function tarCreateArgs(options: CommitWorkerOptions, shadow: string, idMap: string | undefined): string[] {
  const zip = compressor(options.compression);
  const record = recordBytes(options.compression);
  return [
    '--create',
    '--file=-',
    `--record-size=${record}`,
    ...(zip ? [`--use-compress-program=${commandLine(withWidePipes(zip))}`] : []),
    '--format=posix',
    // No atime/ctime, no pid in extended header names: the same tree gives the same bytes.
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    ...(options.note
      ? [`--pax-option=globexthdr.name=venv/GlobalHead,comment=${options.note.replace(/,/g, ';')}`]
      : []),
    '--numeric-owner',
    ...(idMap ? [`--owner-map=${idMap}`, `--group-map=${idMap}`] : []),
    '--xattrs',
    '--xattrs-include=user.*',
    '--xattrs-include=security.capability',
    '--xattrs-exclude=user.fuseoverlayfs.*',
    '--xattrs-exclude=user.overlay.*',
    ...(options.live ? ['--ignore-failed-read', '--warning=no-file-changed', '--warning=no-file-removed'] : []),
    // %u: records written so far.
    ...(options.progress
      ? [`--checkpoint=${Math.ceil(PROGRESS_BYTES / record)}`, '--checkpoint-action=echo=venv-progress %u']
      : []),
    // Shadow files are listed by absolute name; -P keeps tar from mangling them first.
    '--absolute-names',
    `--transform=s,^${literal(shadow)}/,,SH`,
    '--no-recursion',
    // No --directory: tar runs in the upper dir (commit-worker.ts says why).
    // Names come from the walk verbatim: a file called "--to-command=..." stays a name.
    '--null',
    '--no-unquote',
    '--verbatim-files-from',
    '--files-from=-',
  ];
}
