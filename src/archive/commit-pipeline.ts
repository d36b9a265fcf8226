// The parent side of a commit: starts commit-worker.js in a user namespace with the env's
// mapping, its stdout going straight to the output (a file descriptor or a pipe venv
// reads), so that the archive's bytes never pass through this process on the way to a
// file.
import { type BackendName, opaqueXattr } from '../backends/backend.js';
import type { Readable } from 'node:stream';
import type { Mapping } from '../host/host-checks.js';
import { inUserns } from '../host/userns.js';
import { type Child, start } from './child.js';
import type { CommitWorkerOptions } from './commit-worker.js';
import type { Compression } from './compression.js';
import { estimateTarSize } from './size-estimate.js';

export interface CommitPipelineOptions {
  upper: string;
  mapping: Mapping;
  /** The env's backend: whether its opaque dirs are marked by an xattr alone. */
  backend: BackendName;
  compression: Compression;
  live: boolean;
  /** Where the worker may make scratch files ($VENV_HOME/tmp). */
  scratch: string;
  /** The env's run/prepared manifest (see prepared.ts). */
  prepared?: string;
  /** A comment for the archive's pax global header. */
  note?: string;
  /** Where the compressed archive goes: a file descriptor, or "pipe" to read it. */
  output: number | 'pipe';
  /**
   * Called with the bytes of tar written so far (before compression) and an estimate of
   * the total (0 until it is known).
   */
  onProgress?: (bytes: number, total: number) => void;
}

export interface CommitPipeline {
  worker: Child;
  /** The archive, when output is "pipe". */
  stdout: Readable | undefined;
}

export function startCommit(options: CommitPipelineOptions): CommitPipeline {
  const workerOptions: CommitWorkerOptions = {
    upper: options.upper,
    compression: options.compression,
    scratch: options.scratch,
    // With the env's own mapping, host root is not mapped: what it owned shows as the
    // overflow id. Real root's kernel overlay stores real ids.
    mapOverflowId: options.mapping !== 'host',
    opaqueXattr: opaqueXattr(options.backend, options.mapping),
    live: options.live,
    progress: options.onProgress !== undefined,
    note: options.note,
    prepared: options.prepared,
  };
  const script = new URL('./commit-worker.js', import.meta.url).pathname;
  const [file, args] = inUserns(options.mapping, [process.execPath, script, JSON.stringify(workerOptions)]);
  const worker = start(file, args, {
    stdio: ['ignore', options.output, 'pipe', options.onProgress ? 'pipe' : 'ignore'],
  });
  const progress = worker.process.stdio[3] as Readable | null;
  if (progress && options.onProgress) {
    const report = options.onProgress;
    // The total is estimated while the worker runs, so that nobody waits for it: measured
    // before the worker started, it held a commit of 114,000 entries back 5.7 s.
    const estimate = estimateTarSize(options.upper, options.mapping);
    const stopEstimate = () => estimate.stop();
    void worker.done.then(stopEstimate, stopEstimate);
    let total = 0;
    void estimate.bytes.then((bytes) => (total = bytes ?? 0));
    let partial = '';
    progress.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const last = lines.pop();
      if (last) report(Number(last), total);
    });
  }
  return { worker, stdout: options.output === 'pipe' ? (worker.process.stdout ?? undefined) : undefined };
}
