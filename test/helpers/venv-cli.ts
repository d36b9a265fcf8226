// Runs the built CLI the way a user does: bin/venv by absolute path, with a given
// VENV_HOME, stdin from a string or /dev/null (never a terminal), output captured.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** The launcher (sh fast path for `run`/`shell`, node for the rest). */
export const VENV_BIN = fileURLToPath(new URL('../../../bin/venv', import.meta.url));
/** The TypeScript CLI itself, to exercise the node path of `run` and `shell`. */
export const CLI_JS = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface VenvResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  signal: string | undefined;
}

export interface VenvCallOptions {
  cwd?: string;
  /** Fed to stdin; without it stdin is /dev/null. */
  input?: string;
  /** Added to (or, with value undefined, removed from) the caller's environment. */
  env?: Record<string, string | undefined>;
  /** Run `node dist/src/cli.js` instead of bin/venv (the node path). */
  viaNode?: boolean;
  timeoutMs?: number;
}

function command(args: readonly string[], options: VenvCallOptions): [string, string[]] {
  return options.viaNode ? [process.execPath, [CLI_JS, ...args]] : [VENV_BIN, [...args]];
}

function environment(home: string, options: VenvCallOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, VENV_HOME: home, ...options.env };
  for (const [key, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[key];
  return env;
}

/** Runs venv to completion. Never rejects on a failure status: tests assert on it. */
export async function venv(home: string, args: readonly string[], options: VenvCallOptions = {}): Promise<VenvResult> {
  const [file, argv] = command(args, options);
  const result = await execa(file, argv, {
    cwd: options.cwd ?? '/tmp',
    env: environment(home, options),
    extendEnv: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    reject: false,
    stripFinalNewline: false,
    timeout: options.timeoutMs ?? 60_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode, signal: result.signal };
}

/** Starts venv and returns the running process (for signals and concurrent entries). */
export function spawnVenv(
  home: string,
  args: readonly string[],
  options: VenvCallOptions & { detached?: boolean } = {},
) {
  const [file, argv] = command(args, options);
  const session = execa(file, argv, {
    cwd: options.cwd ?? '/tmp',
    env: environment(home, options),
    extendEnv: false,
    stdin: 'ignore',
    detached: options.detached ?? false,
    reject: false,
    stripFinalNewline: false,
    buffer: true,
    timeout: options.timeoutMs ?? 60_000,
  });
  running.add(session);
  void session.finally(() => running.delete(session));
  return session;
}

const running = new Set<{ kill(signal: NodeJS.Signals): boolean } & Promise<unknown>>();

/**
 * Kills (SIGKILL) the sessions a test started and did not wait for, e.g. because it
 * failed half-way; the runtime must clean up after that too, so the leak check follows.
 */
export async function killRunningSessions(): Promise<number> {
  const left = [...running];
  for (const session of left) session.kill('SIGKILL');
  await Promise.allSettled(left);
  return left.length;
}

export type Session = ReturnType<typeof spawnVenv>;

/** Resolves once `text` appeared on the process's stdout; rejects if it exits first. */
export function waitForOutput(child: Session, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => done(new Error(`no "${text}" on stdout within ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) done();
    };
    const onExit = () => done(new Error(`venv exited before printing "${text}"; stdout: ${seen}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
  });
}
