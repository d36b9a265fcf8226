// The diff worker: `node diff-worker.js JSON`, run inside a user namespace with the env's
// mapping (the upper dir is readable only there). Walks the upper dir and compares each
// entry with the same path on the host; prints one JSON object per change on stdout.
import { lstatSync, type Stats } from 'node:fs';
import { BatchWriter } from './batch-writer.js';
import { opaqueDirs } from './opaque-dirs.js';
import { Prepared } from './prepared.js';
import { OPAQUE_MARKER, type UpperEntry, type UpperKind, walkUpper } from './upper-walk.js';
import { type FileType, fileTypeOf } from './file-type.js';

export interface DiffWorkerOptions {
  upper: string;
  /** Read trusted.overlay.opaque too (real root's kernel overlay). */
  trustedXattrs: boolean;
  /** The lower layer: the host's /. */
  lower?: string;
  /** The env's run/prepared manifest. */
  prepared?: string;
}

export type EntryType = FileType;
export type ChangeKind = 'added' | 'added dir' | 'modified' | 'deleted' | 'replaced' | 'symlink' | 'fifo' | 'socket';

export interface Change {
  /** Absolute, as seen inside the env. */
  path: string;
  kind: ChangeKind;
  /** The type of what is there now (for "deleted": of what was there). */
  type: EntryType;
}

function typeOf(stat: Stats): EntryType {
  return fileTypeOf(stat) ?? 'file';
}

const ADDED: Partial<Record<UpperKind, ChangeKind>> = {
  dir: 'added dir',
  symlink: 'symlink',
  fifo: 'fifo',
  socket: 'socket',
};

function lstatOrNothing(path: Buffer): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR (a parent is a file on the host), EACCES (a parent the user may not search)
    return undefined;
  }
}

const bytes = (path: string) => Buffer.from(path, 'latin1');

export function classify(entry: UpperEntry, opaque: Set<string>, upper: string, lower: string): Change | undefined {
  if (entry.kind === 'opaque') return undefined;
  const target = entry.kind === 'whiteout' ? (entry.target as string) : entry.path;
  const path = `/${bytes(target).toString('utf8')}`;
  const host = lstatOrNothing(Buffer.concat([Buffer.from(lower.replace(/\/+$/, '')), bytes(`/${target}`)]));
  const hostType = host ? typeOf(host) : undefined;
  if (entry.kind === 'whiteout') return hostType ? { path, kind: 'deleted', type: hostType } : undefined;
  const type = entry.kind as EntryType;
  if (!host || !hostType) return { path, kind: ADDED[entry.kind] ?? 'added', type };
  if (hostType !== type) return { path, kind: 'replaced', type };
  if (type !== 'dir') return { path, kind: 'modified', type };
  if (opaque.has(entry.path)) return { path, kind: 'replaced', type };
  // A directory is copied up whenever something below it changes; only a new mode is its own change.
  const mine = lstatOrNothing(Buffer.concat([Buffer.from(upper), bytes(`/${entry.path}`)]));
  return mine && (mine.mode & 0o7777) !== (host.mode & 0o7777) ? { path, kind: 'modified', type } : undefined;
}

export async function diffWorker(options: DiffWorkerOptions): Promise<void> {
  const opaque = await opaqueDirs(options.upper, options.trustedXattrs);
  // What venv prepared and the env left alone is no change of the env's (prepared.ts).
  const prepared = Prepared.load(options.upper, options.prepared);
  for (const dir of opaque)
    if (prepared.unchanged(dir === '' ? OPAQUE_MARKER : `${dir}/${OPAQUE_MARKER}`)) opaque.delete(dir);
  const out = new BatchWriter(process.stdout);
  for (const entry of walkUpper(options.upper)) {
    if (prepared.unchanged(entry.path)) continue;
    const change = classify(entry, opaque, options.upper, options.lower ?? '/');
    if (change) await out.write(Buffer.from(`${JSON.stringify(change)}\n`));
  }
  await out.flush();
}

if (process.argv[1]?.endsWith('diff-worker.js')) {
  diffWorker(JSON.parse(process.argv[2] ?? '{}') as DiffWorkerOptions).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
