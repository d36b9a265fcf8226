// The inputs of the file-system rows, made once per run in the scratch dir: tarballs of
// empty files in one directory, a tarball of a real tree of the host, and a few real .debs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** A ustar header for an empty regular file (mode 0644, owner 0:0). */
function emptyFileHeader(name: string): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(0, 12));
  field(136, 12, octal(1_700_000_000, 12));
  field(156, 1, '0');
  field(257, 6, 'ustar');
  field(263, 2, '00');
  // The checksum is computed with its own field as eight blanks.
  field(148, 8, '        ');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${octal(sum, 7)}\0`);
  return header;
}

/** A tarball of `count` empty files f000000, f000001, ... all in its top directory. */
export async function makeFlatTarball(scratch: string, count: number): Promise<string> {
  const path = join(scratch, `flat-${count}.tar`);
  const file = await open(path, 'w');
  try {
    const batch: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      batch.push(emptyFileHeader(`f${String(i).padStart(6, '0')}`));
      if (batch.length === 4096) await file.write(Buffer.concat(batch.splice(0)));
    }
    batch.push(Buffer.alloc(1024));
    await file.write(Buffer.concat(batch));
  } finally {
    await file.close();
  }
  return path;
}

/** The real trees the tree rows untar, where they exist (about 28,000 entries on Debian 12). */
const TREE_SOURCES = ['usr/share/locale', 'usr/share/man'];

/** A tarball of the host's TREE_SOURCES (what the user can read of them) and its entry count. */
export function makeTreeTarball(scratch: string): { path: string; entries: number; sources: string[] } {
  const sources = TREE_SOURCES.filter((dir) => existsSync(`/${dir}`));
  if (sources.length === 0) throw new Error(`none of ${TREE_SOURCES.map((d) => `/${d}`).join(', ')} exists`);
  const path = join(scratch, 'tree.tar');
  const made = spawnSync('tar', ['--ignore-failed-read', '-C', '/', '-cf', path, ...sources], { encoding: 'utf8' });
  if (made.status !== 0 && made.status !== 1) throw new Error(`tar of ${sources.join(' ')} failed: ${made.stderr}`);
  const listed = spawnSync('tar', ['-tf', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { path, entries: listed.stdout.split('\n').filter(Boolean).length, sources: sources.map((d) => `/${d}`) };
}

/**
 * Packages for the dpkg row: real, with no maintainer script that --unpack runs (dpkg cannot
 * run one under --root as an ordinary user), and not installed on a usual Debian host.
 */
export const DEB_PACKAGES = ['hello', 'cowsay', 'tree', 'docutils-doc', 'libjs-jquery-ui', 'python3-numpy'];

/**
 * Fetches DEB_PACKAGES with `apt-get download` into DIR; the .deb paths, or why there are
 * none (no apt, no network, a package installed on the host: dpkg would upgrade it instead).
 */
export function fetchDebs(dir: string): { debs: string[] } | { skipped: string } {
  const installed = DEB_PACKAGES.filter(
    (name) =>
      spawnSync('dpkg-query', ['-W', '-f', '${Status}', name], { encoding: 'utf8' }).stdout === 'install ok installed',
  );
  if (installed.length > 0) return { skipped: `installed on the host already: ${installed.join(', ')}` };
  mkdirSync(dir, { recursive: true });
  const fetched = spawnSync('apt-get', ['download', ...DEB_PACKAGES], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (fetched.error || fetched.status !== 0) {
    const why = fetched.error?.message ?? fetched.stderr.trim().split('\n').pop() ?? `exit ${fetched.status}`;
    return { skipped: `\`apt-get download\` failed (no network or no apt?): ${why}` };
  }
  const debs = readdirSync(dir)
    .filter((name) => name.endsWith('.deb'))
    .map((name) => join(dir, name));
  return debs.length === DEB_PACKAGES.length ? { debs } : { skipped: `apt-get download gave ${debs.length} .debs` };
}

/** Files in the .debs (dpkg-deb -c), for the row's note. */
export function debEntries(debs: readonly string[]): number {
  return debs.reduce(
    (total, deb) =>
      total + spawnSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length,
    0,
  );
}
