// Writes UpperItems into an env's upper dir so that fuse-overlayfs shows them inside as if
// they had been copied up: missing parent directories get the host directory's mode and
// times, files the mode (and times) of the host file they stand for. Files the user creates
// on the host side show as root's inside (they belong to the user, who is root there).
//
// Idempotent: an item whose path the upper dir already holds, or has deleted (a whiteout),
// is skipped, so what the env did itself wins. The env must not be in use.
import { chmodSync, lstatSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import type { Mapping } from '../host/host-checks.js';
import { type HostView, realHost, type UpperItem } from './upper-items.js';

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** True when the env deleted `envPath` or replaced a parent of it with something else. */
function deletedInEnv(upper: string, envPath: string): boolean {
  const target = join(upper, envPath);
  return exists(join(dirname(target), `.wh.${basename(target)}`)) || (exists(target) && !isDir(target));
}

function copyTimes(target: string, like: string | undefined, host: HostView): void {
  const entry = like === undefined ? undefined : host.stat(like);
  if (entry) utimesSync(target, entry.atimeMs / 1000, entry.mtimeMs / 1000);
}

export interface WriteResult {
  /** Items written. */
  written: number;
  /** Every path created in the upper dir (as seen inside), parents and markers included. */
  created: string[];
}

/** Writes the items. Throws the fs error (EACCES, ...) it meets. */
export function writeItems(upper: string, items: UpperItem[], host: HostView = realHost): WriteResult {
  const newDirs: string[] = [];
  const created: string[] = [];
  let written = 0;
  const knownDirs = new Set<string>();
  const ensureParents = (envPath: string): boolean => {
    const parts = dirname(envPath).split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (knownDirs.has(dir)) continue;
      if (!isDir(join(upper, dir))) {
        if (deletedInEnv(upper, dir)) return false;
        mkdirSync(join(upper, dir), { mode: 0o755 });
        chmodSync(join(upper, dir), host.stat(dir)?.mode ?? 0o755);
        newDirs.push(dir);
        created.push(dir);
      }
      knownDirs.add(dir);
    }
    return true;
  };
  for (const item of items) {
    const target = join(upper, item.path);
    if (exists(target) || deletedInEnv(upper, item.path) || !ensureParents(item.path)) continue;
    if (item.kind === 'file') {
      writeFileSync(target, item.content, { flag: 'wx', mode: 0o600 });
      chmodSync(target, item.mode);
      copyTimes(target, item.like, host);
      created.push(item.path);
    } else if (item.kind === 'dir') {
      mkdirSync(target, { mode: 0o700 });
      created.push(item.path);
      if (item.opaque) {
        // The OCI form of an opaque directory, which fuse-overlayfs reads too.
        writeFileSync(join(target, '.wh..wh..opq'), '', { mode: 0o644 });
        created.push(join(item.path, '.wh..wh..opq'));
      }
      chmodSync(target, item.mode);
      if (item.like) newDirs.push(item.like);
    } else {
      const marker = join(dirname(item.path), `.wh.${basename(item.path)}`);
      writeFileSync(join(upper, marker), '', { flag: 'wx', mode: 0o644 });
      created.push(marker);
    }
    written += 1;
  }
  // Last, deepest first: creating entries in a directory changes its times.
  for (const dir of newDirs.sort((a, b) => b.length - a.length)) copyTimes(join(upper, dir), dir, host);
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
