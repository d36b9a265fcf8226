// Where snapshots live and what is known about them:
//
//   $VENV_HOME/snapshots/NAME/TAG/
//     snapshot.json     { version, env, tag, created, bytes, format, live }
//     upper.tar.zst     the env's upper dir as it was, exactly (see snapshot-archive.ts)
//
// A snapshot is built in NAME/.tmp-TAG-PID-RANDOM and renamed to TAG when complete.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidEnvName, shownName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { isAlive } from '../host/pid.js';
import { READ_LIMITS, readEnvFile } from '../store/env-files.js';

export interface SnapshotMeta {
  version: 1;
  env: string;
  tag: string;
  created: string;
  /** Size of the stored snapshot on disk. */
  bytes: number;
  format: 'tar.zst';
  /** Taken while the env was in use (--live): it may be inconsistent. */
  live: boolean;
}

export const ARCHIVE_NAME = 'upper.tar.zst';
const META_NAME = 'snapshot.json';

export function snapshotsDir(home: string, name: string): string {
  return join(home, 'snapshots', name);
}

export function snapshotDir(home: string, name: string, tag: string): string {
  return join(snapshotsDir(home, name), tag);
}

export function stagingDir(home: string, name: string, tag: string): string {
  return join(snapshotsDir(home, name), `.tmp-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Tags follow the rules of env names; the default is the time, e.g. 20250102-150405. */
export function checkTag(tag: string): void {
  if (isValidEnvName(tag)) return;
  throw new VenvError('USAGE', `invalid snapshot tag ${shownName(tag)}`, {
    hint: 'letters, digits, ".", "_" and "-", not starting with "." or "-", up to 64 characters',
  });
}

export function defaultTag(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export function metaFile(dir: string): string {
  return join(dir, META_NAME);
}

/** A snapshot's record, read through env-files (no link followed, bounded); undefined if missing. */
function readRecord(dir: string): SnapshotMeta | undefined {
  const text = readEnvFile(dir, META_NAME, READ_LIMITS.meta);
  return text === undefined ? undefined : (JSON.parse(text) as SnapshotMeta);
}

export async function readSnapshot(home: string, name: string, tag: string): Promise<SnapshotMeta> {
  checkTag(tag);
  let record: SnapshotMeta | undefined;
  try {
    record = readRecord(snapshotDir(home, name, tag));
  } catch (error) {
    if (error instanceof VenvError) throw error;
  }
  if (record) return record;
  throw new VenvError('SNAPSHOT_NOT_FOUND', `env "${name}" has no snapshot "${tag}"`, {
    hint: `see "venv snapshots ${name}"`,
  });
}

/** The snapshots of an env, oldest first. Leftovers of killed snapshots are removed. */
export async function listSnapshots(home: string, name: string): Promise<SnapshotMeta[]> {
  const dir = snapshotsDir(home, name);
  const found: SnapshotMeta[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const stale = /^\.tmp-.*-(\d+)-[0-9a-f]{8}$/.exec(entry);
    if (stale) {
      if (!isAlive(Number(stale[1]))) await rm(join(dir, entry), { recursive: true, force: true });
      continue;
    }
    try {
      const record = readRecord(join(dir, entry));
      if (record) found.push(record);
    } catch {
      // not a snapshot (or one being removed)
    }
  }
  return found.sort((a, b) => a.created.localeCompare(b.created) || a.tag.localeCompare(b.tag));
}
