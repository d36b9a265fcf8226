// A reader that goes away (`venv diff work | head -1`) closes venv's stdout: writes then
// fail with EPIPE, which node raises as an 'error' event that kills the process with a
// stack. venv ends quietly instead, with status 0 for the part written, as git does.
// Output is written once the work is done, so nothing is cut short by this. Any other
// failure to write (a full disk under `> file`) is kept for main() to report in one line,
// unless the command reports it itself (commit -o - does, in its own words).

let closed = false;
let failure: Error | undefined;

/** Whether a write to stdout found its reader gone. */
export function stdoutClosed(): boolean {
  return closed;
}

/** A write to stdout that failed otherwise (ENOSPC, EIO, ...), if any. */
export function stdoutFailure(): Error | undefined {
  return failure;
}

export function watchStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') closed = true;
    else if (!closed) failure ??= error;
  });
}

/** Whether `error` (or what it wraps) is a write to a closed pipe. */
export function isBrokenPipe(error: unknown): boolean {
  for (let at = error, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    if ((at as NodeJS.ErrnoException).code === 'EPIPE') return true;
  }
  return false;
}
