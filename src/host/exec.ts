// Every external program venv runs goes through here: argv arrays only, never a shell
// string built from input; stderr kept for the error message.
import { type ErrorCode, VenvError } from '../errors.js';
import { killGroup } from './pid.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  cwd?: string;
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Error code to throw with when the program fails; without it, failures are returned. */
  failWith?: ErrorCode;
  hint?: string;
  /** Kills the program and its process group when aborted; the result then has a failure status. */
  signal?: AbortSignal;
  /** Sees the program's stdout as it comes (it is captured all the same): for progress. */
  onStdout?: (chunk: Buffer) => void;
}

// Loaded on first use: importing execa takes ~150 ms, more than entering an env, and the
// commands that only enter one (venv run, venv shell) never call run().
let execaModule: Promise<typeof import('execa')> | undefined;
const loadExeca = () => (execaModule ??= import('execa'));

/** Runs a program to completion, capturing its output. */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { execa } = await loadExeca();
  const { signal } = options;
  const subprocess = execa(file, args, {
    cwd: options.cwd,
    input: options.input,
    env: options.env,
    cancelSignal: signal,
    // Abortable: a process group of its own, ended whole (killGroup says why: an
    // interrupted removeTree left unshare's helper behind).
    detached: signal !== undefined,
    reject: false,
    stripFinalNewline: true,
  });
  if (options.onStdout) subprocess.stdout?.on('data', options.onStdout);
  const end = () => killGroup(subprocess.pid);
  signal?.addEventListener('abort', end, { once: true });
  if (signal?.aborted) end();
  let result: Awaited<typeof subprocess>;
  try {
    result = await subprocess;
  } finally {
    signal?.removeEventListener('abort', end);
  }
  const exitCode = result.exitCode ?? 128 + (result.signal ? 1 : 0);
  if (exitCode !== 0 && options.failWith) {
    const detail = lastLine(result.stderr) || result.shortMessage;
    throw new VenvError(options.failWith, `${file} failed: ${detail}`, { hint: options.hint });
  }
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode };
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}
