// Progress of a child that does not report any: how far it has read, seen from /proc.
// A file venv opened and handed to a child shares its offset with venv's own descriptor
// (/proc/self/fdinfo/N "pos:"), and a process's /proc/PID/io "rchar" counts the bytes it
// read, which for tar --create is the files it archives. Polled ten times a second.
import { readFileSync } from 'node:fs';

export type ProgressReport = (done: number, total: number) => void;

function field(path: string, name: string): number | undefined {
  try {
    const match = new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(readFileSync(path, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // gone already
  }
}

/** The offset of this process's descriptor `fd` (shared with the children it was given to). */
export function fdPosition(fd: number): number | undefined {
  return field(`/proc/self/fdinfo/${fd}`, 'pos');
}

/** The bytes process `pid` has read so far. */
export function bytesRead(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : field(`/proc/${pid}/io`, 'rchar');
}

/** Reports `read()` against `total()` every `every` ms until the returned stop() is called. */
export function pollProgress(
  read: () => number | undefined,
  total: () => number,
  report: ProgressReport,
  every = 100,
): () => void {
  const timer = setInterval(() => {
    const done = read();
    if (done !== undefined) report(done, total());
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
