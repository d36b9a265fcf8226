// The commit worker: `node commit-worker.js JSON`, run inside a user namespace with the
// env's mapping (see commit-pipeline.ts), where every file of the upper dir is readable.
// It lists the upper dir in OCI order (upper-walk.ts), lets GNU tar read the files in
// that order, rewrites tar's stream into an OCI layer (oci-from-upper.ts) and compresses
// it to its stdout. GNU tar does the file I/O because it reads xattrs and is fast; node
// cannot read xattrs at all. Progress (bytes of tar so far) goes to fd 3 when asked.
import { createWriteStream, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { BatchWriter, allDone, start } from './child.js';
import { type Compression, compressor } from './compression.js';
import { ociFromUpper } from './oci-from-upper.js';
import { parseTar } from './tar-parse.js';
import { endOfArchive, globalComment } from './tar-write.js';
import { walkUpper } from './upper-walk.js';

export interface CommitWorkerOptions {
  upper: string;
  compression: Compression;
  /** See OciFromUpperOptions. */
  overflowId?: number;
  /** Read trusted.overlay.opaque too (real root's kernel overlay). */
  trustedXattrs: boolean;
  /** The env is in use: files may change or vanish while they are read. */
  live: boolean;
  progress: boolean;
  /** A comment written first, as a pax global header. */
  note?: string;
}

export function tarCreateArgs(options: Pick<CommitWorkerOptions, 'upper' | 'trustedXattrs' | 'live'>): string[] {
  return [
    '--create',
    '--file=-',
    '--format=posix',
    // No atime/ctime, and no pid in the extended header names: the same tree, the same bytes.
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=user.*',
    '--xattrs-include=security.capability',
    ...(options.trustedXattrs ? ['--xattrs-include=trusted.overlay.opaque'] : []),
    ...(options.live ? ['--ignore-failed-read', '--warning=no-file-changed,no-file-removed'] : []),
    '--no-recursion',
    `--directory=${options.upper}`,
    // Names come from the walk verbatim: a file called "--to-command=..." stays a name.
    '--null',
    '--no-unquote',
    '--verbatim-files-from',
    '--files-from=-',
  ];
}

async function feedList(upper: string, stdin: Writable): Promise<void> {
  const list = new BatchWriter(stdin, 64 << 10);
  for (const entry of walkUpper(upper)) await list.write(Buffer.from(`${entry.path}\0`, 'latin1'));
  await list.end();
}

function progressReporter(enabled: boolean): (bytes: number) => void {
  if (!enabled) return () => undefined;
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    try {
      writeSync(3, `${bytes}\n`);
    } catch {
      // nobody listens any more
    }
  };
}

export async function commitWorker(options: CommitWorkerOptions): Promise<void> {
  const env = { ...process.env, LC_ALL: 'C' };
  const tar = start('tar', tarCreateArgs(options), {
    stdio: ['pipe', 'pipe', 'pipe'],
    accept: options.live ? [1] : [],
    env,
  });
  const zip = compressor(options.compression);
  const compress = zip ? start(zip[0] as string, zip.slice(1), { stdio: ['pipe', 'inherit', 'pipe'] }) : undefined;
  const sink = compress ? (compress.process.stdin as Writable) : createWriteStream('', { fd: 1 });
  const report = progressReporter(options.progress);
  const work = (async () => {
    const listed = feedList(options.upper, tar.process.stdin as Writable);
    const out = new BatchWriter(sink);
    let bytes = 0;
    if (options.note) await out.write(globalComment(options.note));
    for await (const buffer of ociFromUpper(parseTar(tar.process.stdout as AsyncIterable<Buffer>), options)) {
      await out.write(buffer);
      bytes += buffer.length;
      report(bytes);
    }
    await out.write(endOfArchive());
    await out.end();
    await listed;
  })();
  await allDone(compress ? [tar, compress] : [tar], work);
}

const isMain = process.argv[1]?.endsWith('commit-worker.js');
if (isMain) {
  commitWorker(JSON.parse(process.argv[2] ?? '{}') as CommitWorkerOptions).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
