// Which directories of an upper dir are opaque. A `.wh..wh..opq` file says so and the
// walk sees it; an xattr alone (the kernel's overlayfs writes only trusted.overlay.opaque,
// or user.overlay.opaque in a user namespace) needs a reader of xattrs, which node lacks.
// venv-opaque (src/native/opaque) reads them with lgetxattr(2); where no compiler built
// it, GNU tar reads them for every directory (--no-recursion, so no file data) and
// tar-parse.ts reads tar's headers, a pass that made a commit about a fifth slower.
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BatchWriter } from './batch-writer.js';
import { allDone, start } from './child.js';
import { parseTar } from './tar-parse.js';
import { walkUpper } from './upper-walk.js';

export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];

const NATIVE = fileURLToPath(new URL('../../native/venv-opaque', import.meta.url));

/** Paths (relative, latin1) of the opaque directories below `upper`. Run in the env's namespace. */
export async function opaqueDirs(upper: string, trustedXattrs: boolean): Promise<Set<string>> {
  const names = OPAQUE_XATTRS.filter((name) => trustedXattrs || !name.startsWith('trusted.'));
  return existsSync(NATIVE) && process.env.VENV_NATIVE_HELPERS !== '0'
    ? opaqueDirsNative(upper, names)
    : opaqueDirsByTar(upper, names);
}

/** Sends the walk's directories (and the markers it sees) to `write`; returns the markers' dirs. */
async function feedDirs(upper: string, list: BatchWriter): Promise<Set<string>> {
  const marked = new Set<string>();
  for (const entry of walkUpper(upper)) {
    if (entry.kind === 'opaque' && entry.target !== undefined) marked.add(entry.target);
    if (entry.kind === 'dir') await list.write(Buffer.from(`${entry.path}\0`, 'latin1'));
  }
  await list.end();
  return marked;
}

async function opaqueDirsNative(upper: string, names: string[]): Promise<Set<string>> {
  const child = start(NATIVE, names, { stdio: ['pipe', 'pipe', 'pipe'], cwd: upper });
  const feed = feedDirs(upper, new BatchWriter(child.process.stdin as Writable, 64 << 10));
  const read = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of child.process.stdout as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks).toString('latin1').split('\0').slice(0, -1);
  })();
  const both = Promise.all([feed, read]);
  await allDone([child], both);
  const [marked, flagged] = await both;
  for (const path of flagged) marked.add(path);
  return marked;
}

async function opaqueDirsByTar(upper: string, names: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const tar = start(
    'tar',
    [
      '--create',
      '--file=-',
      '--format=posix',
      '--xattrs',
      ...names.map((name) => `--xattrs-include=${name}`),
      '--no-recursion',
      '--null',
      '--no-unquote',
      '--verbatim-files-from',
      '--files-from=-',
    ],
    // In the upper dir rather than --directory: see commit-worker.ts.
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, cwd: upper },
  );
  const feed = (async () => {
    for (const dir of await feedDirs(upper, new BatchWriter(tar.process.stdin as Writable, 64 << 10))) found.add(dir);
  })();
  const read = (async () => {
    for await (const item of parseTar(tar.process.stdout as AsyncIterable<Buffer>)) {
      if (item.kind !== 'entry') continue;
      if (names.some((name) => item.entry.xattrs.get(name)?.toString() === 'y')) {
        found.add(item.entry.path.replace(/\/+$/, ''));
      }
    }
  })();
  await allDone([tar], Promise.all([feed, read]));
  return found;
}
