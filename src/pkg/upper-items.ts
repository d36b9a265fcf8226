// Files venv places into an env's upper dir before the env is first entered, and the view
// of the host used to decide them. Pure types plus the real host view; the decisions are
// in prepare-env.ts, the writing in upper-writer.ts.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';

/** A path as seen inside the env (absolute, "/var/lib/dpkg/lock"). */
export type EnvPath = string;

export type UpperItem =
  /** A file with this content; `like` names the host file whose mode and times it copies. */
  | { kind: 'file'; path: EnvPath; content: string; mode: number; like?: EnvPath; why: string }
  /** An empty directory; `like` as above. Opaque: the host's entries in it are hidden inside. */
  | { kind: 'dir'; path: EnvPath; mode: number; like?: EnvPath; opaque?: boolean; why: string }
  /** Hides the host's file inside the env (a ".wh.NAME" file, which fuse-overlayfs and the OCI format read as a deletion). */
  | { kind: 'whiteout'; path: EnvPath; why: string };

export interface HostEntry {
  type: 'file' | 'dir' | 'other';
  size: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
  atimeMs: number;
  mtimeMs: number;
}

/** What prepare-env.ts may ask of the host; a fake one in the unit tests. */
export interface HostView {
  list(dir: string): string[];
  stat(path: string): HostEntry | undefined;
  /** Whether this user can read the entry (a directory: list and enter it). */
  readable(path: string, entry?: HostEntry): boolean;
  read(path: string): string | undefined;
}

/**
 * The permission bits' verdict, from one lstat instead of an access(2) per file (the
 * state dirs hold thousands of files). Root reads everything; ACLs are not looked at.
 */
export function canRead(entry: HostEntry, uid: number, groups: number[]): boolean {
  if (uid === 0) return true;
  const need = entry.type === 'dir' ? 0o5 : 0o4;
  const shift = entry.uid === uid ? 6 : groups.includes(entry.gid) ? 3 : 0;
  return ((entry.mode >> shift) & need) === need;
}

export const realHost: HostView = {
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  stat(path) {
    try {
      const stat = lstatSync(path);
      const type = stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : 'other';
      const { size, uid, gid, atimeMs, mtimeMs } = stat;
      return { type, size, mode: stat.mode & 0o7777, uid, gid, atimeMs, mtimeMs };
    } catch {
      return undefined;
    }
  },
  readable(path, entry = realHost.stat(path)) {
    return entry !== undefined && canRead(entry, process.getuid?.() ?? 0, process.getgroups?.() ?? []);
  },
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/**
 * A base's tree (store/bases.ts) as prepare-env.ts sees it: names and lstat only. Its files
 * are never read (a base is untrusted: its /etc/passwd may be a symlink to a file of yours),
 * and everything counts as readable, since in the env its owners are mapped ids.
 */
export function baseTreeView(tree: string): HostView {
  const inTree = (path: string) => `${tree}/${path.replace(/^\/+/, '')}`;
  return {
    list: (dir) => realHost.list(inTree(dir)),
    stat: (path) => realHost.stat(inTree(path)),
    readable: () => true,
    read: () => undefined,
  };
}
