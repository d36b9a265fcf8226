// Streaming children for the archive pipelines (tar, zstd, the user-namespace worker):
// argv arrays only, the tail of stderr kept for the error message, and a `done` promise
// that fails when the program does. src/host/exec.ts serves programs that run to completion.
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { type ErrorCode, VenvError } from '../errors.js';
import { killGroup } from '../host/pid.js';

export interface Child {
  process: ChildProcess;
  /** Resolves when the program exits with an accepted status; rejects otherwise. */
  done: Promise<void>;
  /** True once venv killed it (its failure is then not the cause of anything). */
  killed: boolean;
  kill(): void;
}

export interface StartOptions {
  stdio: StdioOptions;
  /** Exit statuses that count as success besides 0 (tar's 1: "a file changed as we read it"). */
  accept?: number[];
  failWith?: ErrorCode;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stderr lines that are not errors (progress reports). */
  quiet?: RegExp;
}

/**
 * Starts a program that dies with venv: setpriv's parent-death signal (kept across exec,
 * and across unshare's new user namespace) kills it even when venv is killed outright,
 * so that a kill -9 leaves no tar or zstd running on.
 */
export function start(file: string, args: readonly string[], options: StartOptions): Child {
  // detached: a process group of its own, so that kill() reaches the whole of it.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', file, ...args], {
    stdio: options.stdio,
    env: options.env,
    cwd: options.cwd,
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (error) =>
      reject(new VenvError('TOOL_MISSING', `cannot run setpriv (util-linux): ${error.message}`, { cause: error })),
    );
    child.on('close', (code, signal) => {
      if (code === 0 || (code !== null && options.accept?.includes(code))) return resolve();
      const lines = stderr.split('\n').filter((line) => line.trim() && !options.quiet?.test(line));
      const why = signal ? `killed by ${signal}` : causeLine(lines) || `exit status ${code}`;
      reject(new VenvError(options.failWith ?? 'IO_FAILED', `${programName(file, args)} failed: ${why}`));
    });
  });
  // Callers look at `done` when they are ready; an early failure must not go unhandled.
  done.catch(() => undefined);
  const handle: Child = {
    process: child,
    done,
    killed: false,
    kill: () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      handle.killed = true;
      if (!killGroup(child.pid)) child.kill('SIGKILL');
    },
  };
  return handle;
}

/**
 * Waits for the children and the work, killing all children as soon as one fails or the
 * signal aborts, and rethrows the first failure.
 */
export async function allDone(
  children: Child[],
  work: Promise<unknown> = Promise.resolve(),
  signal?: AbortSignal,
): Promise<void> {
  const killAll = () => {
    for (const child of children) child.kill();
  };
  signal?.addEventListener('abort', killAll);
  const all = [work, ...children.map((c) => c.done)];
  try {
    if (signal?.aborted) killAll();
    await Promise.all(all);
  } catch (error) {
    killAll();
    const settled = await Promise.allSettled(children.map((c) => c.done));
    // A program that failed on its own explains more than the broken pipe it left behind.
    const own = settled.findIndex((result, i) => result.status === 'rejected' && !children[i]?.killed);
    const cause = settled[own];
    await Promise.allSettled(all);
    if (cause?.status === 'rejected' && !(error instanceof VenvError && error.code.startsWith('ARCHIVE_'))) {
      throw cause.reason;
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', killAll);
  }
}

function programName(file: string, args: readonly string[]): string {
  // "unshare ... node worker.js" is the worker; name it for what it does.
  const worker = args.find((arg) => arg.endsWith('-worker.js'));
  if (worker) return worker.split('/').pop() ?? file;
  // "unshare --user ... tar ...": the program that failed is tar (its options have no values).
  if (file === 'unshare') return args.find((arg) => !arg.startsWith('-')) ?? file;
  return file;
}

/** strerror(ENOSPC), as tar, zstd and the others print it. */
export const NO_SPACE = 'No space left on device';

/** True for a full disk: a Node error with ENOSPC, or a child's failure that names one. */
export function isNoSpace(error: unknown): boolean {
  if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return true;
  return (error instanceof Error ? error.message : String(error)).includes(NO_SPACE);
}

/**
 * A full disk said in one line with what to do (`doing`: "cannot save snapshot ..."), or
 * the error as it is when it is something else.
 */
export function noSpaceError(error: unknown, doing: string, unchanged: string): unknown {
  if (!isNoSpace(error)) return error;
  return new VenvError('IO_FAILED', `${doing}: no space left on the device`, {
    hint: `free some space on VENV_HOME's filesystem, or choose another VENV_HOME; ${unchanged}`,
    cause: error,
  });
}

/**
 * The line of stderr that says why: a full disk when one is named (tar's own last words
 * after its compressor hit ENOSPC are "Error is not recoverable"), else the last line.
 */
function causeLine(lines: string[]): string {
  return (lines.findLast((line) => line.includes(NO_SPACE)) ?? lines.at(-1) ?? '').trim();
}
