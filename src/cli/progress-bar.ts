// A one-line progress bar on a terminal's stderr, redrawn at most ten times a second.
// Drawn only when stderr is a terminal (progressOnTerminal): nothing extra goes to pipes
// and logs, nor anything with --quiet.
import { formatBytes } from './format-bytes.js';
import { isQuiet } from './output.js';

export interface ProgressBar {
  update(done: number, total: number): void;
  /** Erases the bar. */
  finish(): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      // The total is an estimate: never claim 100% before the end.
      const ratio = total > 0 ? Math.min(done / total, 0.99) : 0;
      const width = 30;
      const filled = Math.round(ratio * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      stream.write(`\r${label} [${bar}] ${String(Math.floor(ratio * 100)).padStart(2)}% ${formatBytes(done)}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** A bar for `label` when stderr is a terminal and not --quiet; else undefined. */
export function progressOnTerminal(label: string): ProgressBar | undefined {
  return process.stderr.isTTY && !isQuiet() ? progressBar(label) : undefined;
}
