// An output file that appears only when complete. It is written as an unnamed O_TMPFILE
// in the target's directory, so a kill -9, a full disk or Ctrl-C leaves nothing behind:
// the kernel frees an unnamed file with its last descriptor. Only when it is complete is
// it linked (ln -L /proc/PID/fd/N: linkat with AT_SYMLINK_FOLLOW, which node lacks) and
// renamed over the target. Filesystems without O_TMPFILE get a hidden named temp file,
// removed on every exit path venv sees.
import { execFile as execFileCallback } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, read as readCallback } from 'node:fs';
import { promisify } from 'node:util';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VenvError } from '../errors.js';

const read = promisify(readCallback);
// Not execa (src/host/exec.ts) for the one `ln`: importing it costs 0.2 s of CPU, which a
// commit would take from the compressor.
const execFile = promisify(execFileCallback);

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

  /**
   * sha256 and size of what a writer puts into the file, read back while it writes (from
   * the page cache: it was just written) and to the end once `written` resolves. So the
   * hash is taken alongside the compression instead of after it. 4 MiB reads into one
   * buffer: a read stream of 1 MiB chunks took 0.45 s for 160 MB here, this 0.2 s.
   * (Hashing in the pipe from the writer instead made the commit no faster on 2 cores,
   * and sent every byte through node.)
   */
  async digestWhile(written: Promise<unknown>): Promise<{ sha256: string; bytes: number }> {
    let finished = false;
    written.then(
      () => (finished = true),
      () => (finished = true),
    );
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(4 << 20);
    let bytes = 0;
    for (;;) {
      const atEnd = finished;
      const { bytesRead } = await read(this.fd, buffer, 0, buffer.length, bytes);
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      if (bytesRead > 0) continue;
      if (atEnd) break;
      // Nothing new yet: wait for more, or for the end (whichever comes first).
      await Promise.race([written.catch(() => undefined), new Promise((wake) => setTimeout(wake, 20))]);
    }
    await written;
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
      try {
        await execFile('ln', ['-L', '--', `/proc/${process.pid}/fd/${this.fd}`, named]);
      } catch (error) {
        const why = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
        throw new VenvError('IO_FAILED', `cannot name ${this.target}: ${why}`, { cause: error });
      }
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
