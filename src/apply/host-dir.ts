// Directories of the host's file system, reached without following a symlink: each
// component is opened with O_PATH | O_NOFOLLOW from the one above it, through
// /proc/self/fd/N/NAME (node has no openat; see store/env-files.ts). `venv apply` writes
// only through these, so a symlink on the way (one the host has, or one this apply just
// made) never carries a write elsewhere: it is refused instead.
import { type BigIntStats, closeSync, constants, fstatSync, openSync } from 'node:fs';
import { VenvError } from '../errors.js';

/** O_PATH: names a file without opening it (no device open, no FIFO wait). */
export const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW } = constants;

const errno = (error: unknown) => (error as NodeJS.ErrnoException).code;

export const shown = (path: string) => `/${Buffer.from(path, 'latin1').toString('utf8')}`;

export class HostDir {
  private constructor(
    readonly fd: number,
    /** Relative to /, latin1. */
    readonly path: string,
  ) {}

  /**
   * The directory `rel` (relative to /, latin1), every component a real directory: one
   * that is a symlink, a file or missing is refused (HOST_CHANGED), naming it.
   */
  static reach(rel: string): HostDir {
    let dir = new HostDir(openSync('/', O_PATH | O_DIRECTORY), '');
    for (const name of rel.split('/').filter(Boolean)) {
      try {
        const next = dir.dir(name);
        dir.close();
        dir = next;
      } catch (error) {
        dir.close();
        throw error;
      }
    }
    return dir;
  }

  /** Where syscalls that do not follow their last component reach `name`. */
  at(name: string): Buffer {
    return Buffer.concat([Buffer.from(`/proc/self/fd/${this.fd}/`), Buffer.from(name, 'latin1')]);
  }

  /** The same for another process (mkfifo, mknod): the name must be valid UTF-8 for its argv. */
  atForChild(name: string): string {
    const text = Buffer.from(name, 'latin1').toString('utf8');
    if (Buffer.from(text, 'utf8').toString('latin1') !== name) {
      throw new VenvError('IO_FAILED', `cannot make ${shown(this.child(name))}: its name is not UTF-8`);
    }
    return `/proc/${process.pid}/fd/${this.fd}/${text}`;
  }

  child(name: string): string {
    return this.path === '' ? name : `${this.path}/${name}`;
  }

  /** The directory `name` in this one; refused when it is not a real directory. */
  dir(name: string): HostDir {
    try {
      return new HostDir(openSync(this.at(name), O_PATH | O_DIRECTORY | O_NOFOLLOW), this.child(name));
    } catch (error) {
      const code = errno(error);
      if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT') {
        const what = code === 'ENOENT' ? 'is missing' : 'is not a directory (a symlink or a file)';
        throw new VenvError('HOST_CHANGED', `${shown(this.child(name))} ${what} on the host now`, {
          hint: 'the host changed since the env was made: look at it, then run venv apply again (nothing was applied)',
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The entry's own stat (never a symlink's target); undefined when it does not exist. */
  lstat(name: string): BigIntStats | undefined {
    let fd: number;
    try {
      fd = openSync(this.at(name), O_PATH | O_NOFOLLOW);
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return fstatSync(fd, { bigint: true });
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Splits "a/b/c" into "a/b" and "c". */
export function splitPath(rel: string): [string, string] {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
}
