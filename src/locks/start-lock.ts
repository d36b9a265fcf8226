// Holding an env's start mutex (run/start.lock, the flock session.sh takes to start, join
// and leave an env) from node, which has no flock(2): runtime/exclusive.sh takes it, sees
// to it that nothing of the env runs (refusing, or with `force` ending its processes), and
// holds it until we close its stdin. While it is held no session can enter, so the check
// and the act (rm, rollback, restore --force, commit, snapshot) are one step; the lock
// goes with the child if venv dies. The child runs in a process group of its own, so that
// a Ctrl-C meant for venv cannot end it while venv renames things under it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describeProcesses, type EnvProcess, runningEnv } from '../store/env-state.js';
import { type ErrorCode, VenvError } from '../errors.js';
import { type EnvPaths, runtimeDir } from '../store/paths.js';

export interface ExclusiveOptions {
  /** End the env's processes if it is in use, instead of refusing. */
  force?: boolean;
  /** The option that would allow it anyway, named in a refusal. */
  flag?: string;
  /** Gives up waiting (before the env is held; never while `work` runs). */
  signal?: AbortSignal;
  /** Called just before the processes of an env in use are ended (`force`), with the user's ones. */
  onEnding?: (processes: EnvProcess[]) => void;
}

/**
 * Runs `work` with the start mutex held and nothing of the env running: no session can
 * enter meanwhile. Refuses (naming the processes) an env in use unless `force`.
 */
export async function withEnvExclusive<T>(
  paths: EnvPaths,
  home: string,
  options: ExclusiveOptions,
  work: () => Promise<T>,
): Promise<T> {
  options.signal?.throwIfAborted();
  // What --force ends, for the user: read before and again when the helper says it ends
  // them (by then some may be gone already, or new ones have come).
  const seen = new Map<number, EnvProcess>();
  const look = () => {
    for (const found of (options.force && runningEnv(paths.name, home)?.processes) || []) seen.set(found.pid, found);
  };
  look();
  const onEnding = () => {
    look();
    options.onEnding?.([...seen.values()]);
  };
  const child = spawn('sh', [join(runtimeDir(), 'exclusive.sh'), paths.run, options.force ? 'end' : 'refuse'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  const closed = once(child, 'close').catch(() => undefined);
  // A helper that cannot start ends its stdout at once: the refusal below says why.
  child.on('error', (error) => (stderr += error.message));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined);
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  options.signal?.addEventListener('abort', kill, { once: true });
  try {
    const reply = await readyOrNot(child.stdout, onEnding);
    options.signal?.removeEventListener('abort', kill);
    // Aborted, even just after "ready": the helper is killed, and the mutex with it.
    options.signal?.throwIfAborted();
    if (reply !== 'ready') throw refusal(paths, home, options, reply, stderr);
    return await work();
  } finally {
    options.signal?.removeEventListener('abort', kill);
    child.stdin.end();
    await closed;
  }
}

/** The line that decides (or the last one): "ready", "busy PID", "error CODE MSG", "locked", "". */
function readyOrNot(stdout: NodeJS.ReadableStream, onEnding: () => void): Promise<string> {
  return new Promise((resolve) => {
    let buffered = '';
    let last = '';
    // Stays attached (and the stream flowing) to the end, so that the child's close is seen.
    stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.startsWith('ending ')) onEnding();
        last = line;
        if (line === 'ready' || line.startsWith('busy ') || line.startsWith('error ')) resolve(line);
      }
    });
    stdout.on('end', () => resolve(last));
  });
}

function refusal(paths: EnvPaths, home: string, options: ExclusiveOptions, reply: string, stderr: string): VenvError {
  if (reply.startsWith('busy ')) {
    const running = runningEnv(paths.name, home);
    const what = running ? describeProcesses(running) : `anchor ${reply.slice(5)}`;
    return new VenvError('ENV_BUSY', `env "${paths.name}" is in use: ${what}`, {
      hint: `leave its shells and end its commands first${options.flag ? `, or use ${options.flag}` : ''}`,
    });
  }
  const error = /^error (\S+) (.*)$/.exec(reply);
  if (error) return new VenvError((error[1] ?? 'IO_FAILED') as ErrorCode, error[2] ?? '');
  return new VenvError('IO_FAILED', `cannot lock env "${paths.name}": ${stderr.trim() || 'the lock helper ended'}`);
}

/**
 * Runs `work` with the start mutex held and the env not in use: refuses (naming the
 * processes) if it is. `flag` names the option that would allow it anyway.
 */
export function whileNotInUse<T>(paths: EnvPaths, home: string, flag: string, work: () => Promise<T>): Promise<T> {
  return withEnvExclusive(paths, home, { flag }, work);
}
