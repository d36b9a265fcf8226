// Applies one extracted image layer to a base's tree, as a container runtime does:
//   node apply-layer.js LAYER TREE            moves LAYER's entries into TREE
//   node apply-layer.js --finish TREE DIR... [-- FILE...]
//                                            makes the mount points DIR... real directories
//                                            and FILE... regular files
// Run as root of a user namespace with the env's mapping (import-base.ts), where the
// files' owners (subordinate ids) are mapped and may be moved and deleted.
//
// LAYER is what extract-layer.ts made of the layer tarball in the fuse-overlayfs form: a
// whiteout is a 0/0 character device (the restore filter refuses every other device node,
// or leaves it out for a base), an opaque directory holds a `.wh..wh..opq` file. So:
//   whiteout NAME        -> NAME (whatever it is, a whole tree) is removed from TREE
//   opaque directory D   -> what TREE had in D is removed, then D's entries go in
//   directory D          -> merged into TREE's D (D's own mode, owner and times win)
//   anything else N      -> replaces TREE's N (renamed: hardlinks among them stay linked)
// Neither tree is walked through a symlink: an entry is entered only when lstat says it
// is a directory, and removals use lstat (rmSync never follows a link).
import {
  chmodSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

const OPAQUE = '.wh..wh..opq';

function lstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const isWhiteout = (stat: Stats) => stat.isCharacterDevice() && stat.rdev === 0;

function copyDirMeta(from: Stats, to: string): void {
  lchownSync(to, from.uid, from.gid);
  chmodSync(to, from.mode & 0o7777);
  utimesSync(to, from.atime, from.mtime);
}

/** Removes what a layer's markers would leave in a directory moved whole into the tree. */
function scrub(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (name === OPAQUE || isWhiteout(stat)) rmSync(path, { force: true });
    else if (stat.isDirectory()) scrub(path);
  }
}

export function applyLayer(layer: string, tree: string): void {
  for (const name of readdirSync(layer)) {
    if (name === OPAQUE) continue;
    const from = join(layer, name);
    const to = join(tree, name);
    const stat = lstatSync(from);
    const there = lstat(to);
    if (isWhiteout(stat)) {
      if (there) rmSync(to, { recursive: true, force: true });
      continue;
    }
    if (stat.isDirectory()) {
      const opaque = lstat(join(from, OPAQUE)) !== undefined;
      if (there?.isDirectory() && !opaque) {
        applyLayer(from, to);
        copyDirMeta(stat, to);
        continue;
      }
      if (there) rmSync(to, { recursive: true, force: true });
      renameSync(from, to);
      scrub(to);
      continue;
    }
    if (there) rmSync(to, { recursive: true, force: true });
    renameSync(from, to);
  }
}

/**
 * The directories an env mounts its shared ones on (/proc, /sys, /dev, /tmp, /run, /home,
 * the caller's home): made where missing, and where the base has something else there (a
 * symlink would take the mount out of the env's root) replaced by a directory.
 */
export function finishTree(tree: string, dirs: readonly string[], files: readonly string[] = []): void {
  for (const dir of dirs) {
    let at = tree;
    for (const part of dir.split('/').filter((p) => p !== '' && p !== '.' && p !== '..')) {
      at = join(at, part);
      const stat = lstat(at);
      if (stat?.isDirectory()) continue;
      if (stat) rmSync(at, { force: true, recursive: true });
      mkdirSync(at, { mode: 0o755 });
      if (dir === '/tmp') chmodSync(at, 0o1777);
    }
  }
  // Files bound over (/etc/resolv.conf): a regular file, empty where the base has none.
  for (const file of files) {
    const at = join(tree, ...file.split('/').filter((p) => p !== '' && p !== '.' && p !== '..'));
    const stat = lstat(at);
    if (stat?.isFile()) continue;
    if (stat) rmSync(at, { force: true, recursive: true });
    writeFileSync(at, '', { mode: 0o644 });
  }
}

if (process.argv[1]?.endsWith('apply-layer.js')) {
  try {
    const [first = '', ...rest] = process.argv.slice(2);
    const split = rest.indexOf('--');
    if (first === '--finish')
      finishTree(rest[0] ?? '', rest.slice(1, split < 0 ? undefined : split), split < 0 ? [] : rest.slice(split + 1));
    else applyLayer(first, rest[0] ?? '');
  } catch (error) {
    process.stderr.write(`venv: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
