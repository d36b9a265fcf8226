// Every file venv itself reads or writes inside an env's directories (the upper dir, run/,
// env.json, snapshots) goes through here. What is there may have been put there by the
// env's programs or by a restored archive, so nothing on the way is trusted:
//   - no symlink is followed, neither the last component nor a directory on the way: each
//     directory is opened with O_NOFOLLOW from the one above it, through
//     /proc/self/fd/N/NAME (node has no openat; the kernel resolves the fd's magic link to
//     the very directory that was opened, then looks NAME up in it);
//   - only regular files are opened for reading or writing, and only after an O_PATH open
//     and an fstat said so: a FIFO, a device or a socket is never opened at all, so nothing
//     blocks and no device sees an open;
//   - reads are bounded per kind of file (READ_LIMITS); a file past its limit is refused
//     before a byte is read;
//   - a write goes into a file that does not exist yet, or into a regular file with one
//     link (a hard link would carry the write elsewhere).
// Refusals are VenvErrors (ENV_UNSAFE_FILE): one line naming the path, and a hint. The
// root given to open() is venv's own directory (an env dir, its run/, a snapshots dir),
// below a VENV_HOME that store/home-trust.ts has checked; it must be the user's and not
// writable by group or others.
import { randomBytes } from 'node:crypto';
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { VenvError } from '../errors.js';

// O_PATH: an fd that names a file without opening it (no read, no device open, no FIFO
// wait). Node does not export it; the value is the same on x86-64 and arm64.
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = constants;

/** How much venv reads of each kind of file; more is refused. */
export const READ_LIMITS = {
  /** env.json, snapshot.json: a few hundred bytes. */
  meta: 64 << 10,
  /** run/keeper, run/mapping: one line. */
  runLine: 4 << 10,
  /** run/prepared: one line per entry venv wrote (a few dozen). */
  prepared: 4 << 20,
  /** dpkg's status (a few MB on a desktop with thousands of packages) and its base. */
  dpkgStatus: 64 << 20,
  /** run/applied: one line per path `venv apply` wrote (apply/applied-record.ts). */
  applied: 64 << 20,
} as const;

const HINT = 'the env\'s programs or a restored archive put it there: remove it, or remove the env ("venv rm NAME")';

export function unsafe(path: string, why: string): VenvError {
  return new VenvError('ENV_UNSAFE_FILE', `refusing ${path}: ${why}`, { hint: HINT });
}

function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symlink, and venv never follows one in an env';
  if (stat.isDirectory()) return 'a directory, not a file';
  if (stat.isFile()) return 'a file, not a directory';
  if (stat.isFIFO()) return 'a FIFO, not a regular file';
  if (stat.isSocket()) return 'a socket, not a regular file';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device, not a regular file';
  return 'not a regular file';
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

const uid = () => process.getuid?.() ?? 0;

/** A directory opened without following a symlink; its entries are reached through its fd. */
export class SafeDir {
  private constructor(
    readonly fd: number,
    /** For messages: the path it was reached by. */
    readonly path: string,
  ) {}

  /**
   * Opens `root` (venv's own directory: the user's, not writable by group or others, not a
   * symlink), then `rel` below it one component at a time. `create`: make missing
   * directories with this mode.
   */
  static open(root: string, rel = '', options: { create?: number } = {}): SafeDir {
    let fd: number;
    try {
      fd = openSync(root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    } catch (error) {
      if (errno(error) === 'ENOTDIR' || errno(error) === 'ELOOP') throw unsafe(root, describeEntry(root));
      throw error;
    }
    const stat = fstatSync(fd);
    if (stat.uid !== uid() || (stat.mode & 0o022) !== 0) {
      closeSync(fd);
      throw new VenvError(
        'VENV_HOME_UNSAFE',
        `refusing ${root}: it is ${stat.uid !== uid() ? `owned by uid ${stat.uid}, not by you` : 'writable by group or others'}`,
        { hint: `venv keeps its files only in directories of yours that nobody else can write: chmod go-w ${root}` },
      );
    }
    const top = new SafeDir(fd, root);
    return rel === '' ? top : top.dirThenClose(rel, options);
  }

  /** Where syscalls that do not follow their last component (mkdir, rename, unlink) reach `name`. */
  at(name: string): string {
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  private shown(name: string): string {
    return `${this.path}/${name}`;
  }

  private dirThenClose(rel: string, options: { create?: number }): SafeDir {
    try {
      return this.dir(rel, options);
    } finally {
      this.close();
    }
  }

  /** A directory below this one, each component opened without following a symlink. */
  dir(rel: string, options: { create?: number } = {}): SafeDir {
    let current = new SafeDir(openSync(this.at('.'), O_PATH | O_DIRECTORY), this.path);
    for (const name of rel.split('/').filter(Boolean)) {
      let next: SafeDir;
      try {
        next = current.child(name, options);
      } finally {
        current.close();
      }
      current = next;
    }
    return current;
  }

  /** The directory `name` in this one (made first with `create`'s mode when missing). */
  private child(name: string, options: { create?: number }): SafeDir {
    if (name === '..' || name === '.') throw new VenvError('IO_FAILED', `bad path ${name} below ${this.path}`);
    if (options.create !== undefined) {
      try {
        mkdirSync(this.at(name), { mode: options.create });
      } catch (error) {
        if (errno(error) !== 'EEXIST') throw error;
      }
    }
    try {
      return new SafeDir(openSync(this.at(name), O_PATH | O_DIRECTORY | O_NOFOLLOW), this.shown(name));
    } catch (error) {
      if (errno(error) === 'ENOTDIR' || errno(error) === 'ELOOP') throw unsafe(this.shown(name), this.describe(name));
      throw error;
    }
  }

  /** What `name` is, for a message: "a symlink, ..." and the like. */
  private describe(name: string): string {
    const stat = this.lstat(name);
    return stat ? kindOf(stat) : 'gone';
  }

  /** The entry's own stat (a symlink is not followed); undefined when it does not exist. */
  lstat(name: string): Stats | undefined {
    return this.withPathFd(name, (fd) => fstatSync(fd));
  }

  /** lstat() to the nanosecond. */
  lstatBigint(name: string): BigIntStats | undefined {
    return this.withPathFd(name, (fd) => fstatSync(fd, { bigint: true }));
  }

  private withPathFd<T>(name: string, work: (fd: number) => T): T | undefined {
    let fd: number;
    try {
      fd = openSync(this.at(name), O_PATH | O_NOFOLLOW);
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
      throw error;
    }
    try {
      return work(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Opens a regular file that exists: an O_PATH look first, then the real open by the same inode. */
  openExisting(name: string, flags: number): { fd: number; stat: Stats } {
    const pathFd = openSync(this.at(name), O_PATH | O_NOFOLLOW);
    try {
      const stat = fstatSync(pathFd);
      if (!stat.isFile()) throw unsafe(this.shown(name), kindOf(stat));
      // No O_NOFOLLOW here: the magic link is the last component, and it is the inode just checked.
      return { fd: openSync(`/proc/self/fd/${pathFd}`, flags | O_NONBLOCK), stat };
    } finally {
      closeSync(pathFd);
    }
  }

  /** The file's text; refused when it is not a regular file or larger than `limit`. */
  read(name: string, limit: number): string {
    const { fd, stat } = this.openExisting(name, O_RDONLY);
    try {
      if (stat.size > limit) throw tooBig(this.shown(name), stat.size, limit);
      // It may grow while read: never more than limit + 1 bytes.
      const buffer = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(stat.size + 1, 4096)));
      let length = 0;
      for (;;) {
        if (length === buffer.length) {
          if (length > limit) throw tooBig(this.shown(name), length, limit);
          break;
        }
        const n = readSync(fd, buffer, length, buffer.length - length, null);
        if (n === 0) break;
        length += n;
      }
      if (length > limit) throw tooBig(this.shown(name), length, limit);
      return buffer.subarray(0, length).toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  /** As read(), but undefined when the file does not exist. */
  readIfExists(name: string, limit: number): string | undefined {
    try {
      return this.read(name, limit);
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  /**
   * Writes `content` to `name`: a new file (with `mode`), or a regular file there with one
   * link, replaced in place. `exclusive`: the file must not exist yet (else EEXIST).
   */
  write(name: string, content: string | Buffer, options: { mode?: number; exclusive?: boolean } = {}): void {
    const fd = this.openForWrite(name, options, 0);
    try {
      writeAll(fd, content);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Puts `content` at `name` in one step for its readers: written under a new name, then
   * renamed over it. A reader (the keeper of another session starting the env) sees the
   * old file or the new one, never a truncated one.
   */
  replace(name: string, content: string | Buffer, mode = 0o644): void {
    const temp = `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`;
    this.write(temp, content, { mode, exclusive: true });
    try {
      this.rename(temp, name);
    } catch (error) {
      this.unlink(temp);
      throw error;
    }
  }

  /** Appends to `name` (created with `mode` if missing), under the same rules as write(). */
  append(name: string, content: string, mode = 0o600): void {
    const fd = this.openForWrite(name, { mode }, O_APPEND);
    try {
      writeAll(fd, content);
    } finally {
      closeSync(fd);
    }
  }

  /** An fd open for writing, by write()'s rules; the caller closes it. */
  openForWrite(name: string, options: { mode?: number; exclusive?: boolean }, extra: number): number {
    try {
      return openSync(this.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | extra, options.mode ?? 0o644);
    } catch (error) {
      if (errno(error) !== 'EEXIST' || options.exclusive) throw error;
    }
    const { fd, stat } = this.openExisting(name, O_WRONLY | extra);
    if (stat.nlink !== 1) {
      closeSync(fd);
      throw unsafe(this.shown(name), `it has ${stat.nlink} hard links, and a write would change them all`);
    }
    if (!extra) ftruncateSync(fd, 0);
    return fd;
  }

  /** Names in this directory. */
  list(): string[] {
    return readdirSync(`/proc/self/fd/${this.fd}`);
  }

  /** rename(2) within this directory: neither name is followed if it is a symlink. */
  rename(from: string, to: string): void {
    renameSync(this.at(from), this.at(to));
  }

  /** Removes a file (never what a symlink points to); nothing if it is missing. */
  unlink(name: string): void {
    try {
      unlinkSync(this.at(name));
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function describeEntry(path: string): string {
  const slash = path.lastIndexOf('/');
  try {
    const fd = openSync(path, O_PATH | O_NOFOLLOW);
    try {
      return kindOf(fstatSync(fd));
    } finally {
      closeSync(fd);
    }
  } catch {
    return `not a directory (${path.slice(slash + 1)})`;
  }
}

function tooBig(path: string, size: number, limit: number): VenvError {
  return unsafe(path, `it is ${mib(size)}, more than the ${mib(limit)} venv reads of such a file`);
}

export function writeAll(fd: number, content: string | Buffer): void {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at);
}

/** Splits "a/b/c" into the directory "a/b" and the name "c". */
function split(rel: string): [string, string] {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
}

/**
 * An upper dir's file as (root, rel) for the functions below: the root is the env dir
 * holding the upper dir (venv's own; the upper dir's own mode and owner are the env's
 * business: `chmod 777 /` inside changes them).
 */
export function inUpper(upper: string, rel: string): [string, string] {
  const slash = upper.replace(/\/+$/, '').lastIndexOf('/');
  return [upper.slice(0, slash), `${upper.slice(slash + 1)}/${rel.replace(/^\/+/, '')}`];
}

/** Runs `work` on the directory holding `rel` below `root`, and closes it. */
export function inDir<T>(root: string, rel: string, work: (dir: SafeDir, name: string) => T): T {
  const [dirRel, name] = split(rel);
  const dir = SafeDir.open(root, dirRel);
  try {
    return work(dir, name);
  } finally {
    dir.close();
  }
}

/** readIfExists of `root/rel`; undefined also when a directory on the way is missing. */
export function readEnvFile(root: string, rel: string, limit: number): string | undefined {
  try {
    return inDir(root, rel, (dir, name) => dir.readIfExists(name, limit));
  } catch (error) {
    if (errno(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** write() of `root/rel`, the directories on the way made (mode 0700) if missing. */
export function writeEnvFile(root: string, rel: string, content: string, mode = 0o644): void {
  const [dirRel, name] = split(rel);
  const dir = SafeDir.open(root, dirRel, { create: 0o700 });
  try {
    dir.write(name, content, { mode });
  } finally {
    dir.close();
  }
}

/**
 * The entry's own stat at `root/rel`, never following a symlink; undefined when it does
 * not exist or cannot be reached without following one (then it is not the env's file).
 */
export function lstatEnvFile(root: string, rel: string): Stats | undefined {
  return quietly(() => inDir(root, rel, (dir, name) => dir.lstat(name)));
}

/** lstatEnvFile() to the nanosecond. */
export function lstatEnvFileBigint(root: string, rel: string): BigIntStats | undefined {
  return quietly(() => inDir(root, rel, (dir, name) => dir.lstatBigint(name)));
}

function quietly<T>(work: () => T | undefined): T | undefined {
  try {
    return work();
  } catch (error) {
    if (errno(error) === 'ENOENT' || (error instanceof VenvError && error.code === 'ENV_UNSAFE_FILE')) return undefined;
    throw error;
  }
}
