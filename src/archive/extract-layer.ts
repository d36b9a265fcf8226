// Extracting an untrusted OCI layer into a fresh directory that becomes an upper dir:
//   FILE -> decompressor (detected from the bytes) -> oci-to-upper.ts (checks every
//   entry, rewrites every header) -> GNU tar -x in a user namespace with the env's mapping
// so that owners and 0/0 whiteout devices can be created. tar only ever sees the stream
// venv wrote; the checks run as the bytes arrive, so an unsafe entry stops everything
// before it reaches tar, and the caller deletes the half-filled directory.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { VenvError } from '../errors.js';
import type { Mapping } from '../host.js';
import { highestMappedId, inUserns } from '../userns.js';
import { allDone, BatchWriter, type Child, start } from './child.js';
import { decompressor, detectCompression, SNIFF_BYTES } from './compression.js';
import { type ExtractStats, ociToUpper } from './oci-to-upper.js';
import { parseTar } from './tar-parse.js';

export interface ExtractOptions {
  /** The archive file. */
  file: string;
  /** An existing, empty directory. */
  into: string;
  mapping: Mapping;
  signal?: AbortSignal;
}

export function tarExtractArgs(into: string): string[] {
  return [
    '--extract',
    '--file=-',
    `--directory=${into}`,
    '--numeric-owner',
    '--same-owner',
    '--same-permissions',
    '--xattrs',
    '--xattrs-include=*',
  ];
}

function openArchive(file: string): { fd: number; head: Buffer } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new VenvError('IO_FAILED', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const head = Buffer.alloc(SNIFF_BYTES);
  const length = readSync(fd, head, 0, SNIFF_BYTES, 0);
  return { fd, head: head.subarray(0, length) };
}

export async function extractLayer(options: ExtractOptions): Promise<ExtractStats> {
  const { fd, head } = openArchive(options.file);
  const children: Child[] = [];
  try {
    const compression = detectCompression(head);
    const maxId = await highestMappedId(options.mapping);
    const unzip = decompressor(compression);
    let source: Readable;
    if (unzip) {
      const child = start(unzip[0] as string, unzip.slice(1), {
        stdio: [fd, 'pipe', 'pipe'],
        failWith: 'ARCHIVE_INVALID',
      });
      children.push(child);
      source = child.process.stdout as Readable;
    } else {
      source = createReadStream(options.file, { highWaterMark: 1 << 20 });
    }
    const [file, args] = inUserns(options.mapping, ['tar', ...tarExtractArgs(options.into)]);
    const tar = start(file, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    children.push(tar);
    const stats: ExtractStats = { entries: 0, bytes: 0 };
    const backend = options.mapping === 'host' ? 'kernel' : 'fuse';
    const work = (async () => {
      const out = new BatchWriter(tar.process.stdin as Writable);
      for await (const buffer of ociToUpper(parseTar(source), { backend, maxId }, stats)) {
        const wait = out.write(buffer);
        if (wait) await wait;
      }
      await out.end();
    })();
    await allDone(children, work, options.signal);
    return stats;
  } finally {
    closeSync(fd);
  }
}
