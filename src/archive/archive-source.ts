// Where an archive to restore comes from: a file, or stdin ("-", e.g. from
// `ssh host venv commit work -o -`). The first bytes tell the compression; a file is
// handed to the decompressor as a descriptor, stdin through a pipe after those bytes.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VenvError } from '../errors.js';
import { SNIFF_BYTES } from './compression.js';

export interface ArchiveSource {
  /** The first bytes (up to SNIFF_BYTES). */
  head: Buffer;
  /** A decompressor's stdin: the file's descriptor, or "pipe" to be fed with feed(). */
  stdin: number | 'pipe';
  /** Writes all the bytes (head included) into a decompressor's stdin. */
  feed(into: Writable): Promise<void>;
  /** All the bytes, for an archive that is not compressed. */
  bytes(): AsyncIterable<Buffer>;
  close(): void;
}

export async function openSource(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<ArchiveSource> {
  if (file === '-') return fromStream(stdin);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new VenvError('IO_FAILED', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const head = Buffer.alloc(SNIFF_BYTES);
  const length = readSync(fd, head, 0, SNIFF_BYTES, 0);
  return {
    head: head.subarray(0, length),
    stdin: fd,
    feed: () => Promise.resolve(),
    bytes: () => createReadStream(file, { highWaterMark: 1 << 20 }),
    close: () => closeSync(fd),
  };
}

async function fromStream(stream: NodeJS.ReadableStream): Promise<ArchiveSource> {
  const iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let length = 0;
  while (length < SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done) break;
    first.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(first);
  async function* bytes(): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return {
    head: head.subarray(0, SNIFF_BYTES),
    stdin: 'pipe',
    feed: (into) => pipeline(bytes(), into),
    bytes,
    close: () => undefined,
  };
}
