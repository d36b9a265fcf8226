// Makes a copy of one of the env's entries on the host under a temporary name, next to
// where it goes (apply-ops.ts renames it into place): a file's bytes, a directory with
// everything in it, a symlink, a FIFO, as root a device; then its mode, times and, as
// root, its owner. The env's tree is read without following a symlink (O_NOFOLLOW on
// every open, lstat for the rest); the host is written only below a directory reached
// by host-dir.ts, into names this apply made itself (O_CREAT | O_EXCL | O_NOFOLLOW).
// Not copied: extended attributes (ACLs, capabilities), and hard links, which arrive as
// separate copies.
import { execFileSync } from 'node:child_process';
import {
  type BigIntStats,
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { under } from '../archive/commit-worker.js';
import { fileTypeOf } from '../archive/file-type.js';
import type { Prepared } from '../archive/prepared.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from '../archive/upper-walk.js';
import { VenvError } from '../errors.js';
import { HostDir, O_PATH } from './host-dir.js';

export interface StageContext {
  /** The tree the env's entries are read from (upper dir or flattened layers). */
  tree: string;
  prepared: Prepared;
  /** Real root: owners and devices are applied. */
  root: boolean;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** An entry inside a tree applied whole that is no file of the env's: overlay markers, sockets, venv's own. */
function skipped(ctx: StageContext, rel: string, name: string, stat: BigIntStats): boolean {
  if (stat.isCharacterDevice() && stat.rdev === 0n) return true; // a whiteout
  if (stat.isFile() && (name === OPAQUE_MARKER || (name.startsWith(WHITEOUT_PREFIX) && name.length > 4))) return true;
  if (stat.isSocket()) return true;
  return ctx.prepared.unchanged(rel);
}

function copyFile(source: Buffer, dest: HostDir, name: string): void {
  const from = openSync(source, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    if (!fstatSync(from).isFile()) throw new VenvError('ENV_UNSAFE_FILE', `${source.toString()} changed while read`);
    const to = openSync(dest.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(from, buffer, 0, buffer.length, null);
        if (n === 0) break;
        for (let at = 0; at < n;) at += writeSync(to, buffer, at, n - at);
      }
    } finally {
      closeSync(to);
    }
  } finally {
    closeSync(from);
  }
}

/** Owner (as root), mode and times of the new entry `name`, from the env's `stat`. */
export function setMeta(dest: HostDir, name: string, stat: BigIntStats, root: boolean, times = true): void {
  const atime = Number(stat.atimeNs) / 1e9;
  const mtime = Number(stat.mtimeNs) / 1e9;
  if (stat.isSymbolicLink()) {
    if (root) lchownSync(dest.at(name), Number(stat.uid), Number(stat.gid));
    if (times) lutimesSync(dest.at(name), atime, mtime);
    return;
  }
  // Through an O_PATH fd of the very entry: no name is looked up again.
  const fd = openSync(dest.at(name), O_PATH | O_NOFOLLOW);
  try {
    const self = `/proc/self/fd/${fd}`;
    // chown first: it clears set-id bits, which the chmod then sets.
    if (root) chownSync(self, Number(stat.uid), Number(stat.gid));
    chmodSync(self, Number(stat.mode & 0o7777n));
    if (times) utimesSync(self, atime, mtime);
  } finally {
    closeSync(fd);
  }
}

/** Makes the env's entry `rel` (latin1, below ctx.tree) as `name` in `dest`. */
export function stageEntry(ctx: StageContext, rel: string, dest: HostDir, name: string): void {
  const source = under(ctx.tree, rel);
  const stat = lstatSync(source, { bigint: true });
  const type = fileTypeOf(stat);
  if (type === 'file') copyFile(source, dest, name);
  else if (type === 'symlink') symlinkSync(readlinkSync(source, { encoding: 'buffer' }), dest.at(name));
  else if (type === 'fifo') execFileSync('mkfifo', ['-m', '600', '--', dest.atForChild(name)]);
  else if ((type === 'chardev' || type === 'blockdev') && ctx.root) {
    const major = String(Number(stat.rdev >> 8n) & 0xfff);
    const minor = String(Number((stat.rdev & 0xffn) | ((stat.rdev >> 12n) & 0xfff00n)));
    execFileSync('mknod', ['-m', '600', '--', dest.atForChild(name), type === 'chardev' ? 'c' : 'b', major, minor]);
  } else if (type === 'dir') {
    mkdirSync(dest.at(name), { mode: 0o700 });
    const sub = dest.dir(name);
    try {
      for (const child of readdirSync(source, { encoding: 'latin1' }).sort()) {
        const childRel = `${rel}/${child}`;
        if (skipped(ctx, childRel, child, lstatSync(under(ctx.tree, childRel), { bigint: true }))) continue;
        stageEntry(ctx, childRel, sub, child);
      }
    } finally {
      sub.close();
    }
  } else {
    throw new VenvError('APPLY_REFUSED', `cannot apply ${source.toString()}: a ${type ?? 'file of unknown type'}`);
  }
  setMeta(dest, name, stat, ctx.root);
}
