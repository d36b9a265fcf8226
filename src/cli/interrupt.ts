// Ctrl-C, SIGTERM and SIGHUP during a long operation (commit, restore, snapshot, rollback):
// instead of dying at once, venv aborts the work, which kills its children and removes what
// it had half made in its `finally` blocks, then fails with INTERRUPTED (exit 130). The
// message says whether the change was made: work that has passed its point of no return
// (a rollback's new tree is in place) records so in `progress`, with what is left to clean up.
import { VenvError } from '../errors.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What the work had done when it was interrupted; it fills this in as it goes. */
export interface Progress {
  /** Set at the point of no return: what was done ('env "w" is back to snapshot "base"'). */
  made?: string;
  /** What `made` left to clean up, and the hint that says who does it; unset once done. */
  left?: { what: string; hint: string };
  /** Set before the env's processes are ended (--force): not "nothing was changed" then. */
  ended?: boolean;
}

export async function interruptible<T>(work: (signal: AbortSignal, progress: Progress) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const progress: Progress = {};
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort();
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  try {
    const result = await work(controller.signal, progress);
    if (received) throw interrupted(received, progress);
    return result;
  } catch (error) {
    if (received) throw interrupted(received, progress);
    throw error;
  } finally {
    for (const signal of SIGNALS) process.off(signal, handler);
  }
}

function interrupted(signal: NodeJS.Signals, progress: Progress = {}): VenvError {
  const exitCode = 130;
  if (progress.made === undefined) {
    const what = progress.ended ? "the env's processes were ended, its files were not changed" : 'nothing was changed';
    return new VenvError('INTERRUPTED', `interrupted by ${signal}; ${what}`, { exitCode });
  }
  const left = progress.left;
  return new VenvError(
    'INTERRUPTED',
    `interrupted by ${signal}, but the change was made: ${progress.made}${left ? `; ${left.what}` : ''}`,
    { exitCode, hint: left?.hint },
  );
}
