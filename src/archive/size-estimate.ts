// The size of the tar a commit will write, estimated for its progress bar while the commit
// runs: find(1) in the env's user namespace (where every entry is readable) prints a size
// per entry, and the estimate is the files' bytes plus 1 KiB of headers per entry.
// find rather than a walk in node: it costs half the CPU (0.6 s against 1.15 s for 114,000
// entries here), and every CPU second is taken from the compressor on a busy machine.
import type { Readable } from 'node:stream';
import type { Mapping } from '../host/host-checks.js';
import { inUserns } from '../host/userns.js';
import { start } from './child.js';

const HEADER_BYTES = 1024;

export interface SizeEstimate {
  /** Resolves with the estimate, or with undefined if find failed or was stopped. */
  bytes: Promise<number | undefined>;
  /** Stops find (when the commit is over first). */
  stop(): void;
}

export function estimateTarSize(upper: string, mapping: Mapping): SizeEstimate {
  // A line per entry below upper: its size for a regular file, 0 for anything else.
  const [file, args] = inUserns(mapping, [
    'find',
    upper,
    '-mindepth',
    '1',
    '(',
    '-type',
    'f',
    '-printf',
    '%s\\n',
    ')',
    '-o',
    '-printf',
    '0\\n',
  ]);
  // Status 1: some entries could not be read (an env without subordinate ids cannot read
  // what it chowned away); the sizes of the rest are still an estimate.
  const find = start(file, args, { stdio: ['ignore', 'pipe', 'ignore'], accept: [1] });
  let total = 0;
  let partial = '';
  (find.process.stdout as Readable).on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('latin1')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) total += Number(line) + HEADER_BYTES;
  });
  return {
    bytes: find.done.then(
      () => total,
      () => undefined,
    ),
    stop: () => find.kill(),
  };
}
