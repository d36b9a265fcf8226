// What the env's mount namespace looks like: the overlay of / (keeper.sh), then the
// host's own directories bound over it. Pure: the tests check it without mounting.
import { existsSync } from 'node:fs';
import { SHARE_NAMES, type ShareName } from '../store/env-settings.js';

/** Host directories an env shares whole instead of overlaying, in mount order. */
export const SHARED_DIRS = ['/sys', '/dev', '/tmp'] as const;

/**
 * Directories the env has its own of, that the host's mounts must not cover: /proc is
 * the env's pid namespace's (keeper.sh mounts it: only a process in that namespace can),
 * /run a tmpfs (below), /home the overlay's, so that `useradd -m` makes homes in the env,
 * with the caller's own home bound in (bindsFstab's ownHome).
 */
export const OWN_DIRS = ['/proc', '/home', '/run'] as const;

/**
 * /run is shared entry by entry on a tmpfs of the env's own (runtime/private-run.sh, at
 * each start, since the host's entries change): here it gets only that tmpfs.
 */
const RUN_TMPFS = 'tmpfs';

/** fstab(5) escapes blanks and backslashes in paths as octal. */
export function fstabEscape(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The binds as an fstab for one `mount --all --fstab` call (one mount(8) process instead
 * of one per directory). rbind, so submounts such as /dev/pts and /proc/sys/fs/binfmt_misc
 * come along.
 */
export function bindsFstab(
  merged: string,
  exists: (path: string) => boolean = existsSync,
  readOnlyMounts: readonly string[] = [],
  ownHome?: string,
  sharing: Sharing = { share: [...SHARE_NAMES], privateHome: '' },
  onBase?: OnBase,
): string {
  const line = (source: string, dir: string, type: string, options: string) =>
    `${fstabEscape(source)} ${fstabEscape(merged + dir)} ${type} ${options} 0 0\n`;
  const shared = SHARED_DIRS.filter((dir) => exists(dir)).map(
    (dir) => privateLines(dir, sharing, exists, line) ?? [line(dir, dir, 'none', 'rbind')],
  );
  // An env that keeps home private gets a /home of its own instead of the caller's home.
  const home = !sharing.share.includes('home')
    ? [line(sharing.privateHome, '/home', 'none', 'bind')]
    : ownHome !== undefined && sharedHome(ownHome, exists)
      ? [line(ownHome, ownHome, 'none', 'rbind')]
      : [];
  const run = exists('/run') ? [line(RUN_TMPFS, '/run', 'tmpfs', 'mode=755,nosuid,nodev')] : [];
  const readOnly = readOnlyMounts.map((dir) => line(dir, dir, 'none', 'rbind,ro'));
  const store = onBase ? storeLines(onBase.store, sharing, ownHome, exists, line) : [];
  return [...shared.flat(), ...home, ...run, ...readOnly, ...store].join('');
}

/** An env on a base (store/bases.ts): where the store of bases is. */
export interface OnBase {
  store: string;
}

/**
 * The store of bases, read-only where the env sees it (through the shared home or /tmp):
 * no program of an env may change a base that other envs stand on. Root inside could undo
 * the mount on purpose (it belongs to the env's namespaces), as it can kill venv's daemon.
 */
function storeLines(
  store: string,
  sharing: Sharing,
  ownHome: string | undefined,
  exists: (path: string) => boolean,
  line: (source: string, dir: string, type: string, options: string) => string,
): string[] {
  const seen =
    (sharing.share.includes('home') &&
      ownHome !== undefined &&
      sharedHome(ownHome, exists) &&
      isUnder(store, ownHome)) ||
    (sharing.share.includes('tmp') && isUnder(store, '/tmp'));
  return seen && exists(store) ? [line(store, store, 'none', 'bind,ro')] : [];
}

/** Which default shared dirs an env keeps private (env-settings.ts), and its own /home. */
export interface Sharing {
  share: readonly ShareName[];
  /** The env's own directory mounted on /home when home is not shared. */
  privateHome: string;
}

/**
 * What replaces a shared dir the env keeps private: a tmpfs on /tmp, and with it on
 * /var/tmp and /dev/shm (after /dev's bind), where the user's files would otherwise show
 * too. undefined: shared.
 */
function privateLines(
  dir: string,
  sharing: Sharing,
  exists: (path: string) => boolean,
  line: (source: string, dir: string, type: string, options: string) => string,
): string[] | undefined {
  if (sharing.share.includes('tmp')) return undefined;
  const tmpfs = (at: string) => line('tmpfs', at, 'tmpfs', 'mode=1777,nosuid,nodev');
  if (dir === '/tmp') return [tmpfs('/tmp'), ...(exists('/var/tmp') ? [tmpfs('/var/tmp')] : [])];
  if (dir === '/dev') return [line(dir, dir, 'none', 'rbind'), ...(exists('/dev/shm') ? [tmpfs('/dev/shm')] : [])];
  return undefined;
}

/**
 * The caller's home is shared (read-write, live) when it is a directory under /home, as it
 * was when venv bound all of /home: other users' homes, and the homes `useradd -m` makes
 * inside, are the env's. A home elsewhere (/root, /var/lib/x) is overlaid like the rest of /.
 */
function sharedHome(home: string, exists: (path: string) => boolean): boolean {
  return /^\/home\/[^/]/.test(home) && !home.split('/').includes('..') && exists(home);
}

/** Undoes the octal escapes of /proc/self/mountinfo (the same as fstab's). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/**
 * The kernel overlay (real root) shows only the root filesystem: mounts below / would
 * appear as their empty mount point. The sensible answer is to show them, read-only, so
 * the host never changes through them: the outermost mount points that are not the
 * shared dirs or inside them (rbind brings the nested ones).
 */
export function readOnlyMountsFor(mountinfo: string, home: string): string[] {
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && point !== '/')
    .map(unescapeMountPath);
  const outside = points.filter(
    (point) =>
      ![...SHARED_DIRS, ...OWN_DIRS].some((dir) => isUnder(point, dir)) &&
      !isUnder(point, home) &&
      !isUnder(home, point),
  );
  const outermost = [...new Set(outside)].filter(
    (point) => !outside.some((other) => other !== point && isUnder(point, other)),
  );
  return outermost.sort();
}
