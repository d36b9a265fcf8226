// How a failed command looks to the user: a VenvError is one line plus a hint, a bug
// prints its stack. Apart from cli.ts so that the mapping can be tested without a CLI run.
import { CommanderError } from 'commander';
import { ExitCode, VenvError } from '../errors.js';

/** Writes what the user should see about `error` and returns the exit status for it. */
export function reportError(error: unknown, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (error instanceof CommanderError) {
    // commander has printed the message already; help and version are not failures.
    return error.exitCode === 0 ? 0 : ExitCode.venvFailure;
  }
  if (error instanceof VenvError) {
    write(`venv: error: ${error.message}\n`);
    if (error.hint) write(`hint: ${error.hint}\n`);
    return error.exitCode;
  }
  write(`venv: internal error (a bug, please report it):\n${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.venvFailure;
}
