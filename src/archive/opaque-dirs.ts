// Which directories of an upper dir are opaque. A `.wh..wh..opq` file says so and the
// walk sees it; an xattr alone (the kernel's overlayfs writes only trusted.overlay.opaque)
// needs a reader of xattrs, which node lacks: GNU tar reads them for every directory
// (--no-recursion, so no file data), and tar-parse.ts reads tar's headers.
import type { Writable } from 'node:stream';
import { BatchWriter } from './batch-writer.js';
import { allDone, start } from './child.js';
import { parseTar } from './tar-parse.js';
import { walkUpper } from './upper-walk.js';

export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];

/** Paths (relative, latin1) of the opaque directories below `upper`. Run in the env's namespace. */
export async function opaqueDirs(upper: string, trustedXattrs: boolean): Promise<Set<string>> {
  const found = new Set<string>();
  const names = OPAQUE_XATTRS.filter((name) => trustedXattrs || !name.startsWith('trusted.'));
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
    const list = new BatchWriter(tar.process.stdin as Writable, 64 << 10);
    for (const entry of walkUpper(upper)) {
      if (entry.kind === 'opaque' && entry.target !== undefined) found.add(entry.target);
      if (entry.kind === 'dir') await list.write(Buffer.from(`${entry.path}\0`, 'latin1'));
    }
    await list.end();
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
