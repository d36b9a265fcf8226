// Entering an env from node: runs the shell runtime (runtime/session.sh), which does the
// namespace work, with the caller's stdio. bin/venv skips node for the common case; this
// path serves `venv shell` of a new env and callers of the API.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { VenvError } from '../errors.js';
import { machineChecks } from '../backends/backend-checks.js';
import { firstBlockingProblem } from '../host/host-checks.js';
import { envPaths, runtimeDir, venvHome } from '../store/paths.js';
import { readMeta, writeRuntimeFiles } from '../store/env-store.js';
import { withEnvLock } from '../locks/env-lock.js';
import { recoverUpper } from '../store/upper-swap.js';

export interface EnterOptions {
  name: string;
  /** The command and its arguments; undefined for the user's shell. */
  command?: string[];
  cwd?: string;
  home?: string;
  /** --quiet: session.sh then prints no warning, nor the line of a merge on entry. */
  quiet?: boolean;
  /** --user: the env's user to run as instead of the image's User (or root). */
  user?: string;
}

/** Signals that reach venv but are meant for the command (session.sh passes them on). */
const FORWARDED = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
/** Signals a terminal sends to the whole process group: the command gets them directly. */
const GROUP_SIGNALS = ['SIGINT', 'SIGQUIT'] as const;

/** Runs a command (or a shell) in the env and resolves with its exit status. */
export async function enterEnv(options: EnterOptions): Promise<number> {
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  // A rollback or restore killed between its two renames leaves no upper dir: finish it.
  if (!existsSync(paths.upper))
    await withEnvLock(paths.lockTarget, options.name, () => recoverUpper(paths, meta.mapping));
  // Envs made by an older venv, or restored, may lack them; cheap to write.
  await writeRuntimeFiles(paths, meta).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    throw new VenvError('ENV_NOT_FOUND', `env "${options.name}" was removed meanwhile`, { cause: error });
  });
  const mode = options.command ? 'run' : 'shell';
  const args = [join(runtimeDir(), 'session.sh'), paths.dir, meta.mapping, options.cwd ?? process.cwd(), mode];
  // setpriv: if venv is killed outright, the session dies too and drops its lock, so the
  // keeper can end the env; nothing is left behind.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'sh', ...args, ...(options.command ?? [])], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: {
      ...process.env,
      ...(options.quiet ? { VENV_QUIET: '1' } : {}),
      // session.sh's channel for --user; never the caller's own variable of that name.
      VENV_USER_OPTION: options.user ?? '',
    },
  });
  let report = '';
  child.stdio[3]?.on('data', (chunk: Buffer) => {
    report += chunk.toString();
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const ignore = () => undefined;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED) handlers.set(signal, forward(signal));
  for (const signal of GROUP_SIGNALS) handlers.set(signal, ignore);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve([c, s]));
    });
    const failure = /^error (\S+) (.*)$/m.exec(report);
    if (code === 125 && failure) throw explainFailure(failure[1] ?? '', failure[2] ?? '', home);
    if (signal) return 128 + (constants.signals[signal] ?? 0);
    return code ?? 125;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

function explainFailure(code: string, message: string, home: string): VenvError {
  const problem = firstBlockingProblem(machineChecks(home));
  const hint =
    code === 'ENV_UNSAFE_FILE'
      ? "the env's programs put it there: remove it, then enter again"
      : code === 'NETWORK_FAILED' || code === 'TOOL_MISSING'
        ? 'see the env\'s network settings with "venv config NAME"; "venv config NAME --net host" gives it the host\'s'
        : problem
          ? `${problem.detail}; fix: ${problem.fix}`
          : 'run "venv doctor" to check this machine';
  const known = [
    'MOUNT_FAILED',
    'NAMESPACE_FAILED',
    'NETWORK_FAILED',
    'TOOL_MISSING',
    'ENV_NOT_FOUND',
    'ENV_BUSY',
    'ENV_CORRUPT',
    'IO_FAILED',
    'ENV_UNSAFE_FILE',
  ] as const;
  const errorCode = (known as readonly string[]).includes(code) ? (code as (typeof known)[number]) : 'NAMESPACE_FAILED';
  return new VenvError(errorCode, message, { hint });
}
