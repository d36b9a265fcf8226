// How a failed command looks to the user: always `venv: error: ...` on one line, then
// `hint: ...` when there is something to do. A VenvError says it in its own words; an
// error of the system (EACCES, ENOSPC, ...) that no module turned into one is said with
// the call and path it names; anything else is a bug, whose stack only VENV_DEBUG=1 shows.
// Apart from cli.ts so that the mapping can be tested without a CLI run.
import { CommanderError } from 'commander';
import { ExitCode, VenvError } from '../errors.js';

const SYSTEM_HINTS: Record<string, string> = {
  EACCES: 'you may not write or read there: choose another place, or ask its owner',
  EPERM: 'you may not write or read there: choose another place, or ask its owner',
  EROFS: 'that filesystem is mounted read-only: choose another place',
  ENOSPC: 'free some space there, or choose another place',
  EDQUOT: 'your disk quota is used up: free some space',
  EMFILE: 'raise the limit of open files (ulimit -n)',
};

const DEBUG_HINT = 'run again with VENV_DEBUG=1 to see where it failed, and report it';

/** Writes what the user should see about `error` and returns the exit status for it. */
export function reportError(
  error: unknown,
  write: (text: string) => void = (t) => process.stderr.write(t),
  debug = Boolean(process.env.VENV_DEBUG),
): number {
  if (error instanceof CommanderError) {
    // Help and version are not failures; usage errors come as VenvErrors (usage-error.ts).
    return error.exitCode === 0 ? 0 : ExitCode.venvFailure;
  }
  if (error instanceof VenvError) {
    write(`venv: error: ${error.message}\n`);
    if (error.hint) write(`hint: ${error.hint}\n`);
    if (debug && error.cause instanceof Error) write(`${error.cause.stack ?? String(error.cause)}\n`);
    return error.exitCode;
  }
  const system = error as NodeJS.ErrnoException;
  if (system instanceof Error && typeof system.code === 'string' && system.code in SYSTEM_HINTS) {
    write(`venv: error: ${system.message}\n`);
    write(`hint: ${SYSTEM_HINTS[system.code]}\n`);
    if (debug) write(`${system.stack ?? ''}\n`);
    return ExitCode.venvFailure;
  }
  if (debug) {
    write(`venv: internal error (a bug, please report it):\n${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.venvFailure;
  }
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  write(`venv: error: internal error (a bug in venv): ${message}\n`);
  write(`hint: ${DEBUG_HINT}\n`);
  return ExitCode.venvFailure;
}
