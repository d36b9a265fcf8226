// commander's parse errors in venv's own format. commander prints "error: unknown command
// 'creat'", "(Did you mean create?)" and a pointer to the global help on three lines; venv
// says the same in one line `venv: error: ...` and a hint naming the failing command's
// own help, like every other error (report-error.ts prints it).
import type { Command, CommanderError } from 'commander';
import { VenvError } from '../errors.js';

/** "venv snapshot rm": the words that reach `command` (a hidden default command adds none). */
export function commandPath(command: Command): string {
  const words: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) {
    if (!(at as unknown as { _hidden?: boolean })._hidden) words.unshift(at.name());
  }
  return words.join(' ');
}

/** The VenvError (code USAGE, exit 125) for a commander parse error raised by `command`. */
export function usageError(command: Command, error: CommanderError): VenvError {
  const [first = error.message] = error.message.split('\n');
  const suggested = /\(Did you mean (.+)\?\)/.exec(error.message)?.[1];
  const message = first.replace(/^error: /, '').replace(/\s*\(Did you mean .+\?\)$/, '');
  const path = commandPath(command);
  const help =
    error.code === 'commander.unknownCommand' || command.parent === null
      ? `run "${path} --help" for the commands`
      : `run "${path} --help" for its usage`;
  const hint = suggested ? `did you mean ${suggestion(path, error.code, suggested)}? ${help}` : help;
  return new VenvError('USAGE', message, { hint, cause: error });
}

function suggestion(path: string, code: string, suggested: string): string {
  return code === 'commander.unknownCommand' ? `"${path} ${suggested}"` : suggested;
}

/** Makes every command (and subcommand) throw instead of printing and exiting. */
export function throwUsageErrors(command: Command): void {
  command.configureOutput({ outputError: () => undefined });
  command.showHelpAfterError(false);
  command.exitOverride((error) => {
    // Help and version (status 0), and the help shown for a bare `venv`, pass as they are.
    if (error.exitCode === 0 || error.code === 'commander.help') throw error;
    throw usageError(command, error);
  });
  for (const sub of command.commands) throwUsageErrors(sub);
}
