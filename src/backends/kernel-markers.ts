// The kernel's overlayfs reads neither OCI marker: a deletion must be a 0/0 character
// device and an opaque directory must carry the overlay's xattr. venv's own writes into
// an upper dir (pkg/upper-writer.ts) use the OCI forms, which fuse-overlayfs reads; for
// an env on the kernel overlay they are turned into the kernel's forms here. Node can
// neither mknod nor set xattrs, and Debian's base system has no setfattr: GNU tar, which
// venv needs anyway, does both, in a user namespace with the env's mapping (where a 0/0
// device may be made), from a small archive written for the purpose.
import { lstatSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { start, allDone } from '../archive/child.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from '../archive/upper-walk.js';
import { Type } from '../archive/tar-header.js';
import { endOfArchive, entryHeader } from '../archive/tar-write.js';
import type { Mapping } from '../host/host-checks.js';
import { inUserns } from '../host/userns.js';

/** What is left to do once the OCI markers in `created` are gone from the upper dir. */
interface Conversion {
  archive: Buffer;
  markers: string[];
  /** `created` with each marker replaced by what stands for it now. */
  created: string[];
}

function plan(upper: string, created: readonly string[], xattr: string): Conversion {
  const blocks: Buffer[] = [];
  const markers: string[] = [];
  const renamed: string[] = [];
  const base = { uid: 0, gid: 0, size: 0, linkpath: '', devmajor: 0, devminor: 0 };
  for (const path of created) {
    const name = basename(path);
    if (!name.startsWith(WHITEOUT_PREFIX)) {
      renamed.push(path);
      continue;
    }
    markers.push(path);
    const dir = dirname(path);
    const relativeDir = dir.replace(/^\/+/, '');
    if (name === OPAQUE_MARKER) {
      // Written again with its own mode and time: tar sets both on a directory it finds.
      const stats = lstatSync(join(upper, dir));
      const mtime = String(Math.floor(stats.mtimeMs / 1000));
      const xattrs = new Map([[xattr, Buffer.from('y')]]);
      blocks.push(
        entryHeader({ ...base, path: relativeDir, type: Type.dir, mode: stats.mode & 0o7777, mtime, xattrs }),
      );
    } else {
      const target = join(dir, name.slice(WHITEOUT_PREFIX.length));
      const relative = target.replace(/^\/+/, '');
      blocks.push(entryHeader({ ...base, path: relative, type: Type.chardev, mode: 0, mtime: '0', xattrs: new Map() }));
      renamed.push(target);
    }
  }
  return { archive: Buffer.concat([...blocks, endOfArchive()]), markers, created: renamed };
}

/**
 * Turns the OCI markers among `created` (paths as seen inside the env) into the kernel
 * overlay's forms, removes the marker files, and returns `created` as it is then.
 */
export async function toKernelMarkers(
  upper: string,
  created: readonly string[],
  mapping: Mapping,
  xattr: string,
): Promise<string[]> {
  const conversion = plan(upper, created, xattr);
  if (conversion.markers.length === 0) return [...created];
  const [program, args] = inUserns(mapping, [
    'tar',
    '--extract',
    '--file=-',
    '--numeric-owner',
    '--xattrs',
    `--xattrs-include=${xattr}`,
    `--directory=${upper}`,
  ]);
  const tar = start(program, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  tar.process.stdin?.end(conversion.archive);
  await allDone([tar]);
  for (const marker of conversion.markers) rmSync(join(upper, marker));
  return conversion.created;
}
