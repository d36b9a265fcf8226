// Pipes of 1 MiB between the stages of a commit or restore, instead of Linux's default
// 64 KiB. With small pipes zstd, the restore filter and tar wake each other every few
// blocks, and on two cores that costs more than the work: on tmpfs, 1.3 GB in 128,000
// entries restored through the filter in 1.27x the plain `zstd -dc | tar -x` with 64 KiB
// pipes and 1.04x with 1 MiB; tar into zstd -T0 (a commit) took 7% less (medians of 10
// and 6 interleaved runs; docs/archive-format.md). Node cannot resize a pipe, so perl
// (perl-base is part of every Debian system) sets F_SETPIPE_SZ on its stdin and stdout and
// execs the program. A size the system refuses (above fs.pipe-max-size; a user over
// fs.pipe-user-pages-soft, 64 MiB of pipe buffers; a file instead of a pipe) leaves that
// descriptor as it was; without perl the program runs as it is.
import { findProgram } from '../host/host-checks.js';

/** fcntl(2)'s F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7). */
const F_SETPIPE_SZ = 1031;
const PIPE_BYTES = 1 << 20;

/** perl that widens its stdin and stdout pipes, then runs its arguments. No single quotes. */
export const WIDEN_PIPES_PERL =
  `fcntl(STDIN, ${F_SETPIPE_SZ}, ${PIPE_BYTES}); fcntl(STDOUT, ${F_SETPIPE_SZ}, ${PIPE_BYTES}); ` +
  'exec { $ARGV[0] } @ARGV or die "venv: cannot run $ARGV[0]: $!\\n"';

/** The perl program to pass a shell script, or "" when there is no perl. */
export function widenPipesScript(): string {
  return findProgram('perl') ? WIDEN_PIPES_PERL : '';
}

/** `argv` run with its stdin and stdout pipes widened (argv as it is without perl). */
export function withWidePipes(argv: string[]): string[] {
  return findProgram('perl') ? ['perl', '-e', WIDEN_PIPES_PERL, ...argv] : argv;
}
