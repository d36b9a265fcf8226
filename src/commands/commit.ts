// `venv commit NAME`: the env's changes as one OCI image layer tarball (docs/archive-format.md).
import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AtomicFile } from '../archive/atomic-file.js';
import { allDone, isNoSpace } from '../archive/child.js';
import { startCommit } from '../archive/commit-pipeline.js';
import { outputPath } from '../archive/output-path.js';
import { COMPRESSIONS, type Compression, EXTENSIONS } from '../archive/compression.js';
import { assertValidEnvName } from '../store/env-name.js';
import { runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import { interruptible } from '../cli/interrupt.js';
import { isAlive } from '../host/pid.js';
import { baseNote } from '../archive/base-note.js';
import { readBaseMeta } from '../store/bases.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { whileNotInUse } from '../locks/start-lock.js';
import { readMeta, removeTree } from '../store/env-store.js';
import type { Mapping } from '../host/host-checks.js';
import { flattenLayers } from '../archive/flatten.js';
import { recoverUpper } from '../store/upper-swap.js';

export interface CommitOptions {
  name: string;
  /** The file (or directory, for NAME.tar.zst in it) to write; "-" for stdout. Default: ./NAME.tar.zst (or .tar.gz, .tar). */
  output?: string;
  compression?: Compression;
  /** Commit even while the env is in use; the archive says it may be inconsistent. */
  live?: boolean;
  home?: string;
  /** Progress: bytes of tar written, and an estimate of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Where "-" writes (process.stdout by default). */
  stdout?: Writable;
  /** A stacked env: its layers' changes too, not only its own (archive/flatten.ts). */
  flatten?: boolean;
}

export interface CommitResult {
  output: string;
  sha256: string;
  bytes: number;
  /** True when the env was in use while it was read (--live). */
  live: boolean;
}

/** The base an env stands on, named in its archive (archive/base-note.ts). */
function onBaseNote(home: string, id: string): string {
  const digest = readBaseMeta(home, id)?.digest;
  if (!digest) throw new VenvError('ENV_CORRUPT', `base ${id} of this env is not stored`, { hint: 'see "venv bases"' });
  return baseNote(id, digest);
}

const LIVE_NOTE = 'venv: committed while the env was in use (--live); it may be inconsistent';

export async function commit(options: CommitOptions): Promise<CommitResult> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const compression = options.compression ?? 'zstd';
  if (!COMPRESSIONS.includes(compression)) {
    throw new VenvError('USAGE', `unknown compression "${compression}": expected ${COMPRESSIONS.join(', ')}`);
  }
  const fileName = `${options.name}${EXTENSIONS[compression]}`;
  // A file or directory given, checked before any work: refused now, not after the archive.
  const output = options.output === '-' ? '-' : outputPath(options.output ?? fileName, fileName);
  const stdout = options.stdout ?? process.stdout;
  if (output === '-' && (stdout as { isTTY?: boolean }).isTTY) {
    throw new VenvError('USAGE', 'refusing to write an archive to a terminal', { hint: 'redirect it: -o - > FILE' });
  }
  const meta = await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, async () => {
    await recoverUpper(paths, meta.mapping);
    const live = Boolean(options.live) && runningEnv(options.name, home) !== undefined;
    const write = () =>
      interruptible(async (signal) => {
        const scratch = join(home, 'tmp');
        await sweepScratch(scratch, meta.mapping);
        const { onProgress } = options;
        const { mapping, backend } = meta;
        const flat =
          options.flatten && meta.layers.length > 0
            ? await flattenLayers(paths, home, meta, scratch, signal)
            : undefined;
        const upper = flat?.upper ?? paths.upper;
        const prepared = flat?.prepared ?? join(paths.run, 'prepared');
        const common = { upper, mapping, backend, compression, live, onProgress, scratch, prepared };
        const notes = [live ? LIVE_NOTE : '', meta.base === undefined ? '' : onBaseNote(home, meta.base)];
        const note = notes.filter(Boolean).join('; ') || undefined;
        try {
          if (output === '-') return await toStream({ ...common, note }, stdout, signal);
          return await toFile({ ...common, note }, output, signal);
        } finally {
          // A worker that venv killed (a failure elsewhere, Ctrl-C) could not remove its
          // scratch dir: do it now rather than at the next commit.
          await sweepScratch(scratch, meta.mapping);
          if (flat) await removeTree(flat.dir, mapping);
        }
      });
    return options.live ? write() : whileNotInUse(paths, home, '--live', write);
  });
}

async function toFile(
  common: Omit<Parameters<typeof startCommit>[0], 'output'>,
  output: string,
  signal: AbortSignal,
): Promise<CommitResult> {
  const file = AtomicFile.open(output);
  try {
    const { worker } = startCommit({ ...common, output: file.fd });
    const digest = await file.digestWhile(allDone([worker], undefined, signal)).catch((error: unknown) => {
      throw fileWriteError(error, output);
    });
    await file.publish();
    return { output, ...digest, live: common.live };
  } finally {
    await file.discard();
  }
}

async function toStream(
  common: Omit<Parameters<typeof startCommit>[0], 'output'>,
  stdout: Writable,
  signal: AbortSignal,
): Promise<CommitResult> {
  const { worker, stdout: archive } = startCommit({ ...common, output: 'pipe' });
  const hash = createHash('sha256');
  let bytes = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const copy = pipeline(archive as NodeJS.ReadableStream, tee, stdout, { end: false }).catch((error: unknown) => {
    throw stdoutWriteError(error);
  });
  await allDone([worker], copy, signal);
  return { output: '-', sha256: hash.digest('hex'), bytes, live: common.live };
}

/** A failed write of the archive to stdout, said in one line (never a stack). */
function stdoutWriteError(error: unknown): VenvError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPIPE') {
    return new VenvError('IO_FAILED', 'the reader of the archive went away before its end (broken pipe)', {
      cause: error,
    });
  }
  const why = code === 'ENOSPC' ? 'no space left on the device' : (error as Error).message;
  return new VenvError('IO_FAILED', `cannot write the archive to stdout: ${why}`, {
    hint: 'what was written is incomplete: do not use it',
    cause: error,
  });
}

/** A full disk under the output file, said in one line; other failures as they are. */
function fileWriteError(error: unknown, output: string): unknown {
  if (!isNoSpace(error)) return error;
  return new VenvError('IO_FAILED', `cannot write ${output}: no space left on the device`, {
    hint: 'free some space there or write elsewhere (-o FILE, or -o - for stdout); no file was written',
    cause: error,
  });
}

/**
 * Removes the scratch dirs of commit workers and flattened trees (archive/flatten.ts)
 * whose venv was killed (their pid is gone).
 */
async function sweepScratch(dir: string, mapping: Mapping): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const [, kind, pid] = /^(commit|flatten)-(\d+)-/.exec(entry) ?? [];
    if (!pid || isAlive(Number(pid))) continue;
    // A flattened tree holds files of the env's subordinate ids.
    if (kind === 'flatten') await removeTree(join(dir, entry), mapping).catch(() => undefined);
    else await rm(join(dir, entry), { recursive: true, force: true });
  }
}
