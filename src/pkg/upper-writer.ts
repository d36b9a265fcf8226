// Writes UpperItems into an env's upper dir so that fuse-overlayfs shows them inside as if
// they had been copied up: missing parent directories get the host directory's mode and
// times, files the mode (and times) of the host file they stand for. Files the user creates
// on the host side show as root's inside (they belong to the user, who is root there).
//
// Idempotent: an item whose path the upper dir already holds, or has deleted (a whiteout),
// is skipped, so what the env did itself wins. The env must not be in use.
import { chmodSync, closeSync, fchmodSync, futimesSync, mkdirSync, utimesSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import type { Mapping } from '../host/host-checks.js';
import { inUpper, SafeDir, writeAll } from '../store/env-files.js';
import { type HostView, realHost, type UpperItem } from './upper-items.js';

export interface WriteResult {
  /** Items written. */
  written: number;
  /** Every path created in the upper dir (as seen inside), parents and markers included. */
  created: string[];
}

/** chmod and utimes through an O_PATH fd's magic link reach that very directory. */
const byFd = (dir: SafeDir) => `/proc/self/fd/${dir.fd}`;

/**
 * Writes the items. Throws the fs error (EACCES, ...) it meets. Nothing in the upper dir
 * is followed (store/env-files.ts): a path under something the env made a symlink or a
 * file, or deleted (a whiteout), is the env's own and is skipped.
 */
export function writeItems(upper: string, items: UpperItem[], host: HostView = realHost): WriteResult {
  const created: string[] = [];
  let written = 0;
  const root = SafeDir.open(...inUpper(upper, ''));
  /** Env path of a directory -> its handle; undefined: the env deleted or replaced it. */
  const dirs = new Map<string, SafeDir | undefined>([['/', root]]);
  /** Directories made here, with the host directory whose times they take. */
  const newDirs: { like: string; dir: SafeDir }[] = [];
  const dirOf = (envDir: string): SafeDir | undefined => {
    if (dirs.has(envDir)) return dirs.get(envDir);
    const parent = dirOf(dirname(envDir));
    const name = basename(envDir);
    let dir: SafeDir | undefined;
    const entry = parent?.lstat(name);
    if (parent && !entry && !parent.lstat(`.wh.${name}`)) {
      mkdirSync(parent.at(name), { mode: 0o755 });
      dir = parent.dir(name);
      chmodSync(byFd(dir), host.stat(envDir)?.mode ?? 0o755);
      newDirs.push({ like: envDir, dir });
      created.push(envDir);
    } else if (parent && entry?.isDirectory()) {
      dir = parent.dir(name);
    }
    dirs.set(envDir, dir);
    return dir;
  };
  try {
    for (const item of items) {
      const parent = dirOf(dirname(item.path));
      const name = basename(item.path);
      if (!parent || parent.lstat(name) || parent.lstat(`.wh.${name}`)) continue;
      if (item.kind === 'file') {
        const fd = parent.openForWrite(name, { mode: 0o600, exclusive: true }, 0);
        try {
          writeAll(fd, item.content);
          fchmodSync(fd, item.mode);
          const like = item.like === undefined ? undefined : host.stat(item.like);
          if (like) futimesSync(fd, like.atimeMs / 1000, like.mtimeMs / 1000);
        } finally {
          closeSync(fd);
        }
        created.push(item.path);
      } else if (item.kind === 'dir') {
        mkdirSync(parent.at(name), { mode: 0o700 });
        const dir = parent.dir(name);
        dirs.set(item.path, dir);
        created.push(item.path);
        if (item.opaque) {
          // The OCI form of an opaque directory, which fuse-overlayfs reads too.
          dir.write('.wh..wh..opq', '', { mode: 0o644, exclusive: true });
          created.push(join(item.path, '.wh..wh..opq'));
        }
        chmodSync(byFd(dir), item.mode);
        if (item.like) newDirs.push({ like: item.like, dir });
      } else {
        parent.write(`.wh.${name}`, '', { mode: 0o644, exclusive: true });
        created.push(join(dirname(item.path), `.wh.${name}`));
      }
      written += 1;
    }
    // Last, deepest first: creating entries in a directory changes its times.
    for (const { like, dir } of newDirs.sort((a, b) => b.like.length - a.like.length)) {
      const entry = host.stat(like);
      if (entry) utimesSync(byFd(dir), entry.atimeMs / 1000, entry.mtimeMs / 1000);
    }
  } finally {
    for (const dir of new Set(dirs.values())) dir?.close();
  }
  return { written, created };
}

/**
 * Writes the items from node. Directories that fuse-overlayfs copied up belong to
 * subordinate ids on the host (an env restored or entered before), so where that stops
 * node, the same is done again in a user namespace with the env's mapping.
 */
export async function writeIntoUpper(upper: string, items: UpperItem[], mapping: Mapping): Promise<WriteResult> {
  try {
    return writeItems(upper, items);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (mapping !== 'auto' || (code !== 'EACCES' && code !== 'EPERM')) {
      throw new VenvError('IO_FAILED', `cannot prepare the env for package managers: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const main = new URL('./upper-writer-main.js', import.meta.url).pathname;
  const result = await run('unshare', ['--user', '--map-root-user', '--map-auto', process.execPath, main, upper], {
    input: JSON.stringify(items),
    failWith: 'IO_FAILED',
    hint: 'the env upper dir holds files this user cannot change; see "venv doctor"',
  });
  return JSON.parse(result.stdout) as WriteResult;
}
