// A one-line progress bar on a terminal's stderr, redrawn at most ten times a second.
// Drawn only when stderr is a terminal (progressOnTerminal): nothing extra goes to pipes
// and logs, nor anything with --quiet.
import { formatBytes } from './format-bytes.js';
import { isQuiet } from './output.js';

export interface ProgressBar {
  /** `total` 0: not known (a walk that cannot tell how far it has to go): a count, no bar. */
  update(done: number, total: number): void;
  /** Erases the bar. */
  finish(): void;
}

export interface ProgressOptions {
  /** What `done` counts: bytes (the default), or entries (files, directories, ...). */
  unit?: 'bytes' | 'entries';
  /**
   * Draw nothing before this many ms: a command that is done by then (`venv list` of
   * small envs, usually) does not flash a line. Default 0.
   */
  delayMs?: number;
}

function formatCount(done: number, unit: ProgressOptions['unit']): string {
  return unit === 'entries' ? `${done.toLocaleString('en-US')} entries` : formatBytes(done);
}

export function progressBar(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  options: ProgressOptions = {},
): ProgressBar {
  const startedAt = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 || now - startedAt < (options.delayMs ?? 0)) return;
      last = now;
      const count = formatCount(done, options.unit);
      if (total <= 0) {
        stream.write(`\r${label}: ${count}\x1b[K`);
      } else {
        // The total is an estimate: never claim 100% before the end.
        const ratio = Math.min(done / total, 0.99);
        const width = 30;
        const filled = Math.round(ratio * width);
        const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
        stream.write(`\r${label} [${bar}] ${String(Math.floor(ratio * 100)).padStart(2)}% ${count}\x1b[K`);
      }
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** A bar for `label` when stderr is a terminal and not --quiet; else undefined. */
export function progressOnTerminal(label: string, options: ProgressOptions = {}): ProgressBar | undefined {
  return process.stderr.isTTY && !isQuiet() ? progressBar(label, process.stderr, options) : undefined;
}
