// The GNU tar command line of a commit (see commit-worker.ts for what it is fed).
import type { CommitWorkerOptions } from './commit-worker.js';
import { compressor } from './compression.js';
import { withWidePipes } from './wide-pipes.js';

/** tar's %u counts records of 10 KiB (its default blocking factor, 20 blocks). */
export const RECORD_BYTES = 10240;

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
  return [
    '--create',
    '--file=-',
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
    ...(options.progress ? [`--checkpoint=1000`, '--checkpoint-action=echo=venv-progress %u'] : []),
    // Shadow files are listed by absolute name; -P keeps tar from mangling them first.
    '--absolute-names',
    `--transform=s,^${literal(shadow)}/,,SH`,
    '--no-recursion',
    `--directory=${options.upper}`,
    // Names come from the walk verbatim: a file called "--to-command=..." stays a name.
    '--null',
    '--no-unquote',
    '--verbatim-files-from',
    '--files-from=-',
  ];
}
