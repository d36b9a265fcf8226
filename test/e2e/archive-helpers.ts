// Shared by the archive e2e tests: a manifest of paths as seen inside an env, host paths
// to change, and reading a tarball with an independent reader (Python's tarfile).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync } from 'node:fs';
import type { E2E } from '../helpers/e2e.js';

/** Prints JSON: for each path below the roots, what a program in the env can see of it. */
export const MANIFEST = String.raw`
import hashlib, json, os, stat, sys
out, inodes = {}, {}
def add(p):
    st = os.lstat(p)
    e = {'mode': oct(st.st_mode), 'mtime': st.st_mtime_ns}
    if stat.S_ISREG(st.st_mode):
        e['size'] = st.st_size
        with open(p, 'rb') as f: e['sha256'] = hashlib.sha256(f.read()).hexdigest()
        if st.st_nlink > 1: e['hardlink-of'] = inodes.setdefault((st.st_dev, st.st_ino), p)
    if stat.S_ISLNK(st.st_mode): e['target'] = os.readlink(p)
    try:
        names = [n for n in os.listxattr(p, follow_symlinks=False) if n.startswith('user.')]
        e['xattrs'] = {n: os.getxattr(p, n, follow_symlinks=False).hex() for n in sorted(names)}
    except OSError: pass
    out[p] = e
for root in sys.argv[1:]:
    if root.startswith('ls:'):
        out[root] = sorted(os.listdir(root[3:]))
        continue
    if not os.path.lexists(root):
        out[root] = None
        continue
    add(root)
    if stat.S_ISDIR(os.lstat(root).st_mode):
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for n in sorted(dirs + files): add(os.path.join(d, n))
print(json.dumps(out, sort_keys=True))
`;

/** The manifest of `roots` inside env `name` ("ls:DIR" lists only the names in DIR). */
export async function manifest(e2e: E2E, name: string, roots: string[]): Promise<Record<string, unknown>> {
  const result = await e2e.venv(['run', name, '--', 'python3', '-c', MANIFEST, ...roots]);
  if (result.exitCode !== 0) throw new Error(`manifest in ${name} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

export interface TarMember {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  pax: Record<string, string>;
}

/** The members of a tarball (any compression Python knows, or zstd) as Python's tarfile reads them. */
export function tarMembers(file: string): TarMember[] {
  const script = String.raw`
import json, sys, tarfile
out = []
with tarfile.open(fileobj=sys.stdin.buffer, mode='r|*') as t:
    for m in t:
        out.append({'name': m.name, 'type': m.type.decode(), 'size': m.size, 'mode': m.mode, 'uid': m.uid,
                    'gid': m.gid, 'linkname': m.linkname, 'pax': m.pax_headers})
print(json.dumps(out))
`;
  const input = file.endsWith('.zst') ? execFileSync('zstd', ['-dc', file]) : execFileSync('cat', [file]);
  return JSON.parse(execFileSync('python3', ['-c', script], { input, maxBuffer: 1 << 28 }).toString()) as TarMember[];
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** `count` regular files in /etc that this user can read (the env can copy them up). */
export function hostFiles(count: number): string[] {
  const found = readdirSync('/etc')
    .sort()
    .map((name) => `/etc/${name}`)
    .filter((path) => lstatSync(path).isFile() && readable(path) && !path.includes(' '));
  if (found.length < count) throw new Error(`need ${count} readable files in /etc, found ${found.length}`);
  return found.slice(0, count);
}

/** `count` non-empty, readable directories in /usr/share/doc. */
export function hostDirs(count: number): string[] {
  const found = readdirSync('/usr/share/doc')
    .sort()
    .map((name) => `/usr/share/doc/${name}`)
    .filter((path) => lstatSync(path).isDirectory() && readable(path) && readdirSync(path).length > 0);
  if (found.length < count) throw new Error(`need ${count} directories in /usr/share/doc, found ${found.length}`);
  return found.slice(0, count);
}
