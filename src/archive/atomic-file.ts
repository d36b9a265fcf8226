// An output file that appears only when complete. It is written as an unnamed O_TMPFILE
// in the target's directory, so a kill -9, a full disk or Ctrl-C leaves nothing behind:
// the kernel frees an unnamed file with its last descriptor. Only when it is complete is
// it linked (ln -L /proc/PID/fd/N: linkat with AT_SYMLINK_FOLLOW, which node lacks) and
// renamed over the target. Filesystems without O_TMPFILE get a hidden named temp file,
// removed on every exit path venv sees.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, openSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VenvError } from '../errors.js';
import { run } from '../exec.js';

// O_TMPFILE is __O_TMPFILE | O_DIRECTORY; node does not export it (x86-64 and arm64 value).
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

export class AtomicFile {
  private closed = false;

  private constructor(
    readonly target: string,
    readonly fd: number,
    /** The hidden name while it is written, when O_TMPFILE was not available. */
    private readonly tempName: string | undefined,
  ) {}

  static open(target: string, mode = 0o644): AtomicFile {
    const dir = dirname(target);
    try {
      return new AtomicFile(target, openSync(dir, O_TMPFILE | constants.O_RDWR, mode), undefined);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EOPNOTSUPP' && code !== 'EISDIR' && code !== 'EINVAL') throw cannotWrite(target, error);
    }
    const tempName = join(dir, `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      return new AtomicFile(
        target,
        openSync(tempName, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, mode),
        tempName,
      );
    } catch (error) {
      throw cannotWrite(target, error);
    }
  }

  /** sha256 and size of what was written, read back from the file. */
  async digest(): Promise<{ sha256: string; bytes: number }> {
    const hash = createHash('sha256');
    let bytes = 0;
    const stream = createReadStream('', { fd: this.fd, start: 0, autoClose: false, highWaterMark: 1 << 20 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { sha256: hash.digest('hex'), bytes };
  }

  /** Gives the file its name, replacing whatever had it. */
  async publish(): Promise<void> {
    let named = this.tempName;
    if (!named) {
      named = join(
        dirname(this.target),
        `.${basename(this.target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
      );
      await run('ln', ['-L', '--', `/proc/${process.pid}/fd/${this.fd}`, named], { failWith: 'IO_FAILED' });
    }
    try {
      await rename(named, this.target);
    } catch (error) {
      await unlink(named).catch(() => undefined);
      throw cannotWrite(this.target, error);
    }
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** Drops an unfinished file. Safe to call after publish (then it does nothing). */
  async discard(): Promise<void> {
    if (this.closed) return;
    this.close();
    if (this.tempName) await unlink(this.tempName).catch(() => undefined);
  }
}

function cannotWrite(target: string, error: unknown): VenvError {
  return new VenvError('IO_FAILED', `cannot write ${target}: ${(error as Error).message}`, { cause: error });
}
