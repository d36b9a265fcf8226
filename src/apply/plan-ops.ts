// The plan of `venv apply`, made in the worker (in the env's user namespace, where every
// entry of the upper dir can be read): walks the env's changes (the upper dir, or the
// flattened tree of a stacked env) and says, per path, what applying does to the host and
// whether the host's entry changed since the env made its own (the conflict rule, README
// "Applying an env to the host"):
//   the env's entry was made at T, its birth time (statx btime: when the overlay copied
//   the host's file up, or when the env made or deleted it; for a stacked env, taken from
//   the topmost of its upper dir and layers that has the entry, since flattening copies);
//   the host's entry conflicts when its ctime is later than T (it, or for a directory the
//   env deletes or replaces anything in it, changed after the env took its copy) and it
//   differs from the env's. Entries equal on both sides are left out: applying twice
//   changes nothing the second time.
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs';
import type { ChangeKind, EntryType } from '../archive/diff-worker.js';
import { fileTypeOf } from '../archive/file-type.js';
import type { Prepared } from '../archive/prepared.js';
import { type UpperEntry, walkUpper, WHITEOUT_PREFIX } from '../archive/upper-walk.js';
import type { ApplyOp } from './apply-plan.js';
import { HostDir, shown, splitPath } from './host-dir.js';
import { under } from '../archive/commit-worker.js';
import { type AppliedTimes, appliedTime } from './applied-record.js';

export interface PlanInput {
  /** The tree to apply: the env's upper dir, or its flattened layers and upper dir. */
  tree: string;
  /** Where the entries' birth times are read, top first (the upper dir, then the layers). */
  sources: string[];
  opaque: Set<string>;
  prepared: Prepared;
  /** Used as T when the file system records no birth time: the env's creation (ns). */
  fallbackTime: bigint;
  /** Real root applies owners: an owner that differs is a change too. */
  root: boolean;
  /** When venv apply last wrote each path (applied-record.ts). */
  applied: AppliedTimes;
}

const typeOfStat = (stat: { isFile(): boolean } & Parameters<typeof fileTypeOf>[0]) => fileTypeOf(stat) ?? 'file';

const ADDED: Partial<Record<EntryType, ChangeKind>> = {
  dir: 'added dir',
  symlink: 'symlink',
  fifo: 'fifo',
  socket: 'socket',
};

/** The host's entry at `rel`, never following a symlink; blocked: a directory on the way is not one. */
function hostLstat(rel: string): BigIntStats | undefined | 'blocked' {
  const [dirRel, name] = splitPath(rel);
  let dir: HostDir;
  try {
    dir = HostDir.reach(dirRel);
  } catch {
    return 'blocked';
  }
  try {
    return dir.lstat(name);
  } finally {
    dir.close();
  }
}

/**
 * T of the rule: the birth time of `entry` in the topmost source that has it (never
 * through a symlink), or when venv apply last wrote `path` to the host if that is later.
 */
function madeAt(input: PlanInput, entry: string, path: string): bigint {
  let made = input.fallbackTime;
  for (const source of input.sources) {
    const stat = lstatNoFollow(source, entry);
    if (stat === undefined) continue;
    if (stat.birthtimeNs > 0n) made = stat.birthtimeNs;
    break;
  }
  const applied = appliedTime(input.applied, path);
  return applied > made ? applied : made;
}

/** lstat of `root/rel` when every directory on the way is a real one. */
function lstatNoFollow(root: string, rel: string): BigIntStats | undefined {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const stat = lstatSync(under(root, parts.slice(0, i).join('/')), { throwIfNoEntry: false });
    if (!stat?.isDirectory()) return undefined;
  }
  return lstatSync(under(root, rel), { bigint: true, throwIfNoEntry: false });
}

/** Same bytes in both files (false when either cannot be read). */
function sameContent(envFile: Buffer, hostRel: string): boolean {
  const [dirRel, name] = splitPath(hostRel);
  let a: number | undefined;
  let b: number | undefined;
  let dir: HostDir | undefined;
  try {
    dir = HostDir.reach(dirRel);
    a = openSync(envFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    b = openSync(dir.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(a).isFile() || !fstatSync(b).isFile()) return false;
    const x = Buffer.allocUnsafe(1 << 16);
    const y = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const n = readSync(a, x, 0, x.length, null);
      let m = 0;
      while (m < n) {
        const got = readSync(b, y, m, n - m, null);
        if (got === 0) break;
        m += got;
      }
      if (m !== n || !x.subarray(0, n).equals(y.subarray(0, n))) return false;
      if (n === 0) return readSync(b, y, 0, 1, null) === 0;
    }
  } catch {
    return false;
  } finally {
    if (a !== undefined) closeSync(a);
    if (b !== undefined) closeSync(b);
    dir?.close();
  }
}

/** Whether the env's non-directory entry is what the host already has (nothing to apply). */
function sameOnHost(input: PlanInput, entry: string, rel: string, env: BigIntStats, host: BigIntStats): boolean {
  if ((env.mode & 0o7777n) !== (host.mode & 0o7777n)) return false;
  if (input.root && (env.uid !== host.uid || env.gid !== host.gid)) return false;
  const type = typeOfStat(env);
  if (type === 'symlink')
    return readlinkSync(under(input.tree, entry), { encoding: 'buffer' }).equals(
      readlinkSync(hostPath(rel), { encoding: 'buffer' }),
    );
  if (type === 'file') return env.size === host.size && sameContent(under(input.tree, entry), rel);
  if (type === 'chardev' || type === 'blockdev') return env.rdev === host.rdev;
  return true;
}

/** Whether the env's directory `entry` holds what the host's `rel` holds, all the way down. */
function sameTree(input: PlanInput, entry: string, rel: string): boolean {
  const names = (dir: Buffer) => readdirSync(dir, { encoding: 'latin1' });
  let envNames: string[];
  let hostNames: string[];
  try {
    const [dirRel, name] = splitPath(rel);
    const host = HostDir.reach(dirRel);
    try {
      const stat = host.lstat(name);
      if (!stat?.isDirectory()) return false;
    } finally {
      host.close();
    }
    const inside = HostDir.reach(rel);
    try {
      hostNames = readdirLatin1(inside);
    } finally {
      inside.close();
    }
    envNames = names(under(input.tree, entry)).filter((child) => {
      const stat = lstatSync(under(input.tree, `${entry}/${child}`));
      const marker =
        (stat.isCharacterDevice() && stat.rdev === 0) || (stat.isFile() && child.startsWith(WHITEOUT_PREFIX));
      return !marker && !stat.isSocket() && !input.prepared.unchanged(`${entry}/${child}`);
    });
  } catch {
    return false;
  }
  if (envNames.length !== hostNames.length || envNames.sort().join('/') !== hostNames.sort().join('/')) return false;
  for (const child of envNames) {
    const env = lstatSync(under(input.tree, `${entry}/${child}`), { bigint: true });
    const host = hostLstat(`${rel}/${child}`);
    if (!host || host === 'blocked' || typeOfStat(env) !== typeOfStat(host)) return false;
    if (env.isDirectory()) {
      if ((env.mode & 0o7777n) !== (host.mode & 0o7777n) || !sameTree(input, `${entry}/${child}`, `${rel}/${child}`))
        return false;
    } else if (!sameOnHost(input, `${entry}/${child}`, `${rel}/${child}`, env, host)) return false;
  }
  return true;
}

/** Only for readlink of an entry whose directories were just checked to be real ones. */
const hostPath = (rel: string) => Buffer.from(`/${rel}`, 'latin1');

/** The first entry in the host's tree at `rel` (a directory) changed after `since`, and its directories. */
function walkHostTree(rel: string, since: bigint): { changed?: string; dirs: string[] } {
  const dirs: string[] = [];
  let changed: string | undefined;
  const visit = (dirRel: string) => {
    dirs.push(`/${dirRel}`);
    let dir: HostDir;
    try {
      dir = HostDir.reach(dirRel);
    } catch {
      return;
    }
    try {
      let names: string[];
      try {
        names = readdirLatin1(dir);
      } catch {
        // Not readable by the caller: the access check (host-access.ts) refuses it.
        return;
      }
      for (const name of names) {
        const stat = dir.lstat(name);
        if (!stat) continue;
        if (changed === undefined && stat.ctimeNs > since) changed = dir.child(name);
        if (stat.isDirectory()) visit(dir.child(name));
      }
    } finally {
      dir.close();
    }
  };
  visit(rel);
  return { changed, dirs };
}

function readdirLatin1(dir: HostDir): string[] {
  const fd = openSync(dir.at('.'), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return readdirSync(`/proc/self/fd/${fd}`, { encoding: 'latin1' });
  } finally {
    closeSync(fd);
  }
}

const when = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString().replace('T', ' ').slice(0, 19);

/** The conflict of an op whose host entry exists, if any; fills in hostDirs. */
function conflictOf(input: PlanInput, op: ApplyOp, host: BigIntStats): string | undefined {
  const since = madeAt(input, op.entry, op.path);
  if (host.isDirectory() && op.action !== 'chmod') {
    const walked = walkHostTree(op.path, since);
    op.hostDirs = walked.dirs;
    // The directory itself counts: an entry of it was added or removed since.
    const changed = host.ctimeNs > since ? op.path : walked.changed;
    return changed === undefined
      ? undefined
      : `${shown(changed)} changed on the host after the env took its copy (${when(since)})`;
  }
  if (op.action === 'chmod') return undefined;
  return host.ctimeNs > since
    ? `${op.show} changed on the host (${when(host.ctimeNs)}) after the env took its copy (${when(since)})`
    : undefined;
}

/** Paths below an entry the env adds as a whole that only root may apply. */
function rootOnly(stat: BigIntStats, rel: string): string | undefined {
  const type = typeOfStat(stat);
  if (type === 'chardev' || type === 'blockdev') return `${shown(rel)} (a device)`;
  if ((stat.mode & 0o4000n) !== 0n || ((stat.mode & 0o2000n) !== 0n && type !== 'dir')) {
    return `${shown(rel)} (set-id bits ${(stat.mode & 0o7777n).toString(8)})`;
  }
  return undefined;
}

function isMarker(entry: UpperEntry): boolean {
  return entry.kind === 'whiteout' || entry.kind === 'opaque';
}

/** Every op, parent directories before what is in them. */
export function planOps(input: PlanInput): ApplyOp[] {
  const ops: ApplyOp[] = [];
  let whole: ApplyOp | undefined;
  for (const entry of walkUpper(input.tree)) {
    if (whole && entry.path.startsWith(`${whole.path}/`)) {
      // Inside a tree applied as a whole: markers mean nothing there; note what only root may apply.
      if (!isMarker(entry) && entry.kind !== 'socket' && !input.prepared.unchanged(entry.path)) {
        const why = rootOnly(lstatSync(under(input.tree, entry.path), { bigint: true }), entry.path);
        if (why) (whole.rootOnly ??= []).push(why);
      }
      continue;
    }
    whole = undefined;
    if (entry.kind === 'opaque' || entry.kind === 'socket') continue;
    // What venv wrote itself and the env left alone (archive/prepared.ts), as `venv diff` does:
    // a directory of venv's own the host lacks has only such files in it.
    if (input.prepared.unchanged(entry.path)) continue;
    const path = entry.kind === 'whiteout' ? (entry.target as string) : entry.path;
    const show = shown(path);
    const host = hostLstat(path);
    if (host === 'blocked') continue; // below a directory of venv's own (above) that the host lacks
    const hostInfo = host && { type: typeOfStat(host), ctime: String(host.ctimeNs), uid: Number(host.uid) };
    let op: ApplyOp | undefined;
    if (entry.kind === 'whiteout') {
      if (host && hostInfo)
        op = { path, show, action: 'delete', kind: 'deleted', type: hostInfo.type, entry: entry.path };
    } else {
      const env = lstatSync(under(input.tree, entry.path), { bigint: true });
      const type = typeOfStat(env);
      const base = { path, show, type, entry: entry.path };
      if (!host || !hostInfo) op = { ...base, action: 'add', kind: ADDED[type] ?? 'added' };
      else if (hostInfo.type !== type) op = { ...base, action: 'replace', kind: 'replaced' };
      else if (type === 'dir' && input.opaque.has(entry.path)) {
        // fuse-overlayfs makes every directory the env makes opaque: one applied before is the same.
        if (!sameTree(input, entry.path, path)) op = { ...base, action: 'replace', kind: 'replaced' };
        else whole = { ...base, action: 'replace', kind: 'replaced' };
      } else if (type !== 'dir') {
        if (!sameOnHost(input, entry.path, path, env, host)) op = { ...base, action: 'replace', kind: 'modified' };
      } else if (
        (env.mode & 0o7777n) !== (host.mode & 0o7777n) ||
        (input.root && (env.uid !== host.uid || env.gid !== host.gid))
      ) {
        op = { ...base, action: 'chmod', kind: 'modified' };
      }
      if (op) {
        const why = rootOnly(env, path);
        if (why && !(type === 'dir' && op.action === 'chmod' && (env.mode & 0o4000n) === 0n)) op.rootOnly = [why];
      }
    }
    if (!op) continue;
    if (hostInfo) op.host = hostInfo;
    if (op.type === 'dir' && (op.action === 'add' || op.action === 'replace')) whole = op;
    if (op.action === 'delete' && op.type === 'dir') whole = op;
    ops.push(op);
  }
  return ops;
}

/** Fills in each op's conflict (and the host directories it removes from). */
export function checkConflicts(input: PlanInput, ops: ApplyOp[]): void {
  for (const op of ops) {
    if (op.action === 'add') continue;
    const host = hostLstat(op.path);
    if (!host || host === 'blocked') continue;
    const why = conflictOf(input, op, host);
    if (why) op.conflict = why;
  }
}
