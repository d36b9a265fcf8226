// The question a destructive command (rm, rollback, restore --force) asks before it
// destroys work: only on a terminal, so that scripts (stdin a pipe or a file) work as
// they always did; -y/--yes skips it. Anything but "y" or "yes" changes nothing.
import { createInterface } from 'node:readline';
import { VenvError } from '../errors.js';

export interface ConfirmOptions {
  yes?: boolean;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

/** Asks `question` on the terminal; throws CANCELLED unless the answer is yes. */
export async function confirm(question: string, options: ConfirmOptions = {}): Promise<void> {
  const input = options.input ?? process.stdin;
  if (options.yes || !input.isTTY) return;
  const lines = createInterface({ input, output: options.output ?? process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      lines.question(`${question} [y/N] `, resolve);
      // Ctrl-D and Ctrl-C are a "no" (readline would only pause on a Ctrl-C nobody handles).
      lines.on('close', () => resolve(''));
      lines.on('SIGINT', () => resolve(''));
    });
    if (!/^\s*y(es)?\s*$/i.test(answer)) {
      throw new VenvError('CANCELLED', 'not confirmed: nothing was changed', {
        hint: 'answer "y" to go ahead, or pass -y (--yes) to skip the question',
      });
    }
  } finally {
    lines.close();
  }
}
