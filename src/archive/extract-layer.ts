// Extracting an untrusted OCI layer into a fresh directory that becomes an upper dir:
//   FILE -> decompressor (detected from the bytes) -> oci-to-upper.ts (checks every
//   entry, rewrites every header) -> GNU tar -x in a user namespace with the env's mapping
// so that owners and 0/0 whiteout devices can be created. tar only ever sees the stream
// venv wrote; the checks run as the bytes arrive, so an unsafe entry stops everything
// before it reaches tar, and the caller deletes the half-filled directory.
import type { Readable, Writable } from 'node:stream';
import type { Mapping } from '../host.js';
import { highestMappedId, inUserns } from '../userns.js';
import { BatchWriter } from './batch-writer.js';
import { allDone, type Child, start } from './child.js';
import { openSource } from './archive-source.js';
import { decompressor, detectCompression } from './compression.js';
import { type ExtractStats, ociToUpper } from './oci-to-upper.js';
import { parseTar } from './tar-parse.js';

export interface ExtractOptions {
  /** The archive file, or "-" for stdin. */
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

export async function extractLayer(options: ExtractOptions): Promise<ExtractStats> {
  const input = await openSource(options.file);
  const children: Child[] = [];
  try {
    const compression = detectCompression(input.head);
    const maxId = await highestMappedId(options.mapping);
    const unzip = decompressor(compression);
    let source: AsyncIterable<Buffer>;
    let feeding: Promise<void> = Promise.resolve();
    if (unzip) {
      const child = start(unzip[0] as string, unzip.slice(1), {
        stdio: [input.stdin, 'pipe', 'pipe'],
        failWith: 'ARCHIVE_INVALID',
      });
      children.push(child);
      if (child.process.stdin) feeding = input.feed(child.process.stdin);
      source = child.process.stdout as Readable;
    } else {
      source = input.bytes();
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
    await allDone(children, Promise.all([work, feeding]), options.signal);
    return stats;
  } finally {
    input.close();
  }
}
