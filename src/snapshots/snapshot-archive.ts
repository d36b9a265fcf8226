// A snapshot's contents: the upper dir exactly as it is (0/0 whiteout devices, the
// overlay's own xattrs, stored ids and all), as a zstd tarball written by GNU tar in a
// user namespace with the env's mapping, and unpacked the same way. Unlike `venv commit`,
// nothing is converted: a rollback puts back the very same tree. The tarball lives in
// $VENV_HOME (mode 0700), is written by venv only, and is trusted as such.
import type { Mapping } from '../host/host-checks.js';
import { inUserns } from '../host/userns.js';
import { AtomicFile } from '../archive/atomic-file.js';
import { allDone, start } from '../archive/child.js';
import { compressor } from '../archive/compression.js';
import { bytesRead, fdPosition, pollProgress, type ProgressReport } from '../archive/progress-probe.js';
import { estimateTarSize } from '../archive/size-estimate.js';
import { fstatSync } from 'node:fs';

const ENV_C = { ...process.env, LC_ALL: 'C' };

/** Writes the upper dir into `file` (not yet published); returns nothing until tar is done. */
export async function packUpper(
  upper: string,
  mapping: Mapping,
  file: AtomicFile,
  live: boolean,
  signal: AbortSignal,
  onProgress?: ProgressReport,
) {
  const zip = (compressor('zstd') as string[]).join(' ');
  const [program, args] = inUserns(mapping, [
    'tar',
    '--create',
    '--file=-',
    `--use-compress-program=${zip}`,
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    ...(live ? ['--ignore-failed-read', '--warning=no-file-changed', '--warning=no-file-removed'] : []),
    `--directory=${upper}`,
    '.',
  ]);
  const tar = start(program, args, { stdio: ['ignore', file.fd, 'pipe'], accept: live ? [1] : [], env: ENV_C });
  if (!onProgress) return allDone([tar], undefined, signal);
  // What tar read of the files (setpriv and unshare exec it: its pid is the child's),
  // against the estimate commit uses too.
  const estimate = estimateTarSize(upper, mapping);
  let total = 0;
  void estimate.bytes.then((bytes) => (total = bytes ?? 0));
  const stop = pollProgress(
    () => bytesRead(tar.process.pid),
    () => total,
    onProgress,
  );
  try {
    await allDone([tar], undefined, signal);
  } finally {
    stop();
    estimate.stop();
  }
}

/**
 * Unpacks a snapshot's tarball, open on `archive` (through store/env-files.ts, so that no
 * link or FIFO put in its place is opened), into `into`, an empty directory.
 */
export async function unpackUpper(
  archive: number,
  into: string,
  mapping: Mapping,
  signal: AbortSignal,
  onProgress?: ProgressReport,
) {
  const [program, args] = inUserns(mapping, [
    'tar',
    '--extract',
    '--file=-',
    '--zstd',
    '--numeric-owner',
    '--same-owner',
    '--same-permissions',
    '--xattrs',
    '--xattrs-include=*',
    `--directory=${into}`,
  ]);
  const tar = start(program, args, { stdio: [archive, 'ignore', 'pipe'], env: ENV_C });
  const total = fstatSync(archive).size;
  const stop = onProgress
    ? pollProgress(
        () => fdPosition(archive),
        () => total,
        onProgress,
      )
    : () => undefined;
  try {
    await allDone([tar], undefined, signal);
  } finally {
    stop();
  }
}
