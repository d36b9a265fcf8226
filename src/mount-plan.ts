// What the env's mount namespace looks like: fuse-overlayfs over / (keeper.sh), then the
// host's own directories bound over it. Pure: the tests check it without mounting.
import { existsSync } from 'node:fs';

/** Host directories an env shares instead of overlaying, in mount order. */
export const SHARED_DIRS = ['/proc', '/sys', '/dev', '/home', '/tmp', '/run'] as const;

/** fstab(5) escapes blanks and backslashes in paths as octal. */
export function fstabEscape(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The binds as an fstab for one `mount --all --fstab` call (one mount(8) process instead
 * of one per directory). rbind, so submounts such as /dev/pts and /proc/sys/fs/binfmt_misc
 * come along.
 */
export function bindsFstab(merged: string, exists: (path: string) => boolean = existsSync): string {
  return SHARED_DIRS.filter((dir) => exists(dir))
    .map((dir) => `${fstabEscape(dir)} ${fstabEscape(merged + dir)} none rbind 0 0\n`)
    .join('');
}
