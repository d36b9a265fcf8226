// The commit worker: `node commit-worker.js JSON`, run inside a user namespace with the
// env's mapping (see commit-pipeline.ts), where every file of the upper dir is readable.
//
// GNU tar writes the archive and compresses it straight to our stdout: no file data
// passes through node, which is what keeps a commit as fast as `tar | zstd`. Node only
// walks the upper dir (upper-walk.ts) and hands tar the list of names in OCI order. What
// the upper dir holds in overlay form is listed in OCI form instead:
//   a 0/0 device NAME   -> an empty file .wh.NAME made in a scratch dir ("shadow")
//   an opaque dir D     -> an empty file D/.wh..wh..opq from the shadow, right after D
// and tar's --transform strips the shadow's absolute prefix from those names. The
// overlay's own xattrs are excluded, and ids are mapped with --owner-map/--group-map.
import { lstatSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BatchWriter } from './batch-writer.js';
import { allDone, start } from './child.js';
import { recordBytes, tarCreateArgs } from './commit-tar-args.js';
import type { Compression } from './compression.js';
import { listForCommit } from './commit-list.js';
import { opaqueDirs } from './opaque-dirs.js';
import { Prepared } from './prepared.js';
import { OPAQUE_MARKER, walkUpper, WHITEOUT_PREFIX } from './upper-walk.js';

export interface CommitWorkerOptions {
  upper: string;
  compression: Compression;
  /** A directory for the shadow files (removed again); in $VENV_HOME. */
  scratch: string;
  /**
   * Write the overflow id 65534 as 0. Files fuse-overlayfs copied up from the host's
   * root-owned files are stored owned by it, because host root is not mapped in the env.
   */
  mapOverflowId: boolean;
  /**
   * The xattr alone by which the env's backend marks opaque directories (the kernel's
   * overlayfs: backends/backend.ts); undefined where a .wh..wh..opq file marks them.
   */
  opaqueXattr: string | undefined;
  /** The env is in use: files may change or vanish while they are read. */
  live: boolean;
  /** Report progress (bytes of tar written so far) on fd 3. */
  progress: boolean;
  /** A comment for a pax global header (marks --live archives). */
  note?: string;
  /** The env's run/prepared manifest: what venv wrote itself is left out (prepared.ts). */
  prepared?: string;
}

/** Bytes of `root` (a path) joined with `path` (latin1: bytes one to one). */
export function under(root: string, path: string): Buffer {
  return Buffer.concat([Buffer.from(root), Buffer.from(`/${path}`, 'latin1')]);
}

/** An empty file in the shadow tree, with the mtime (whole seconds) of `like`. */
function shadowFile(shadow: string, path: string, like: Buffer): Buffer {
  const slash = path.lastIndexOf('/');
  if (slash > 0) mkdirSync(under(shadow, path.slice(0, slash)), { recursive: true });
  const file = under(shadow, path);
  writeFileSync(file, '', { mode: 0o600 });
  const seconds = Math.floor(lstatSync(like).mtimeMs / 1000);
  utimesSync(file, seconds, seconds);
  return file;
}

async function feedList(options: CommitWorkerOptions, shadow: string, stdin: Writable): Promise<void> {
  // fuse-overlayfs (1.0 and later) writes a .wh..wh..opq file into every directory it makes
  // opaque, which the walk sees; only the kernel's overlayfs marks them with an xattr alone.
  const xattr = options.opaqueXattr;
  const xattrOpaque = xattr ? await opaqueDirs(options.upper, xattr.startsWith('trusted.')) : new Set<string>();
  const prepared = Prepared.load(options.upper, options.prepared);
  // Names gather in a string and go to tar 64 KiB at a time: one conversion per batch.
  const list = new BatchWriter(stdin, 64 << 10);
  let batch = '';
  const emit = (name: string | Buffer) => {
    batch += `${typeof name === 'string' ? name : name.toString('latin1')}\0`;
    if (batch.length < 64 << 10) return undefined;
    const wait = list.write(Buffer.from(batch, 'latin1'));
    batch = '';
    return wait;
  };
  const inUpper = (path: string) => under(options.upper, path);
  await listForCommit(
    walkUpper(options.upper),
    {
      xattrOpaque,
      prepared: (path) => prepared.unchanged(path),
      whiteout: (path) => {
        const slash = path.lastIndexOf('/');
        const name = `${path.slice(0, slash + 1)}${WHITEOUT_PREFIX}${path.slice(slash + 1)}`;
        return shadowFile(shadow, name, inUpper(path));
      },
      marker: (dir) => shadowFile(shadow, `${dir}/${OPAQUE_MARKER}`, inUpper(dir)),
    },
    emit,
  );
  await list.write(Buffer.from(batch, 'latin1'));
  await list.end();
}

function forwardProgress(stderr: Readable, options: CommitWorkerOptions): void {
  if (!options.progress) return;
  const record = recordBytes(options.compression);
  // tar writes its checkpoint lines to an unbuffered stderr, a few bytes at a time: under
  // load a line comes in pieces, and only whole lines are read (a piece-wise match lost
  // every report of a commit now and then).
  let partial = '';
  stderr.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    const counts = lines.map((line) => /venv-progress (\d+)$/.exec(line)?.[1]).filter((count) => count !== undefined);
    const last = counts.at(-1);
    if (last === undefined) return;
    try {
      writeSync(3, `${Number(last) * record}\n`);
    } catch {
      // nobody listens any more
    }
  });
}

export async function commitWorker(options: CommitWorkerOptions): Promise<void> {
  mkdirSync(options.scratch, { recursive: true, mode: 0o700 });
  const scratch = mkdtempSync(join(options.scratch, `commit-${process.pid}-`));
  try {
    const shadow = join(scratch, 'tree');
    mkdirSync(shadow);
    let idMap: string | undefined;
    if (options.mapOverflowId) {
      idMap = join(scratch, 'ids');
      writeFileSync(idMap, '+65534 +0\n');
    }
    const tar = start('tar', tarCreateArgs(options, shadow, idMap), {
      // Started in the upper dir rather than told --directory: with --directory, GNU tar
      // 1.34 reads each file's xattrs through /proc/self/fd/N/NAME (its stand-in for an
      // llistxattrat), 0.2 s more CPU per 100,000 files.
      cwd: options.upper,
      stdio: ['pipe', 'inherit', 'pipe'],
      accept: options.live ? [1] : [],
      env: { ...process.env, LC_ALL: 'C' },
      quiet: /venv-progress/,
    });
    forwardProgress(tar.process.stderr as Readable, options);
    await allDone([tar], feedList(options, shadow, tar.process.stdin as Writable));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('commit-worker.js')) {
  commitWorker(JSON.parse(process.argv[2] ?? '{}') as CommitWorkerOptions).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
