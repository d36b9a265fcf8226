// Runs venv on a pseudo-terminal made by script(1) (util-linux), for what venv does only
// on a terminal: progress bars, and the questions of destructive commands.
import { spawnSync } from 'node:child_process';
import { VENV_BIN } from './venv-cli.js';

/** Whether script(1) is there; tests that need a terminal skip without it. */
export const hasScript = spawnSync('script', ['--version']).status === 0;

export interface TerminalResult {
  status: number | null;
  /** What the terminal showed: stdout and stderr, with the echoed input. */
  screen: string;
}

/** `venv ARGS` with a terminal on stdin, stdout and stderr; `input` is typed into it. */
export function onTerminal(home: string, args: readonly string[], input = ''): TerminalResult {
  const line = [VENV_BIN, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('script', ['--quiet', '--return', '--command', line, '/dev/null'], {
    env: { ...process.env, VENV_HOME: home, TERM: 'dumb' },
    input,
    encoding: 'latin1',
    timeout: 120_000,
    // A diff of a big env is megabytes of screen.
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, screen: result.stdout };
}
