// Writing many small buffers to a pipe without a promise, a copy or a syscall apiece.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Writes with backpressure, gathering small buffers into one writev per megabyte. */
export class BatchWriter {
  private pending = 0;

  constructor(
    private readonly stream: Writable,
    private readonly limit = 1 << 20,
  ) {
    stream.cork();
  }

  /** Returns a promise only when the caller must wait (awaiting one per buffer is costly). */
  write(buffer: Buffer): Promise<void> | undefined {
    if (buffer.length === 0) return undefined;
    this.stream.write(buffer);
    this.pending += buffer.length;
    return this.pending >= this.limit ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    this.pending = 0;
    this.stream.uncork();
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
    this.stream.cork();
  }

  async end(): Promise<void> {
    this.stream.uncork();
    this.stream.end();
    if (!this.stream.writableFinished) await once(this.stream, 'finish');
  }
}
