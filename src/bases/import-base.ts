// Importing a base (`venv create NAME --base SOURCE`): SOURCE becomes a list of layer
// tarballs, each is extracted as restore extracts an archive (extract-layer.ts: every
// entry checked, written anew, owners through the subordinate ids) and applied in order
// to one tree (apply-layer.ts: whiteouts and opaque directories honoured). All of it
// happens in bases/.import-PID-RANDOM, renamed to bases/ID only when complete, so an
// interrupted import leaves no base (and the next import sweeps its remains).
//   a directory         -> one tar of it, made here in a canonical form (sorted, numeric
//                          owners, no atime or ctime, your own files as root's); ID from
//                          that stream's sha256
//   an OCI image layout -> its layers (oci-image.ts); ID from the manifest's digest
//   a tarball           -> an oci-archive (has oci-layout) or a docker-archive (has
//                          manifest.json) is unpacked and read as above; anything else is a
//                          root file system; ID from the file's sha256
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { detectCompression, SNIFF_BYTES } from '../archive/compression.js';
import { extractLayer } from '../archive/extract-layer.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import type { Mapping } from '../host/host-checks.js';
import { isAlive } from '../host/pid.js';
import { inUserns } from '../host/userns.js';
import {
  type BaseConfig,
  type BaseKind,
  type BaseMeta,
  baseDir,
  basesDir,
  idOfDigest,
  readBaseMeta,
  storedBases,
} from '../store/bases.js';
import { removeTree } from '../store/env-store.js';
import { type Image, type ImageLayer, readDockerArchive, readOciLayout, sha256OfFd } from './oci-image.js';

export interface ImportOptions {
  source: string;
  home: string;
  mapping: Mapping;
  signal?: AbortSignal;
  /** Bytes read and written so far, of about how many. */
  onProgress?: (done: number, total: number) => void;
}

const STAGING = /^\.import-(\d+)-[0-9a-f]{8}$/;

/** Where the env mounts the shared directories: the tree must have them as directories. */
function mountPoints(): string[] {
  let home: string | undefined;
  try {
    home = userInfo().homedir;
  } catch {
    home = undefined;
  }
  const own = home && /^\/home\/[^/]+/.test(home) && !home.split('/').includes('..') ? [home] : [];
  return ['/proc', '/sys', '/dev', '/tmp', '/run', '/home', '/etc', ...own];
}

/** Imports SOURCE (or finds it stored already) and returns its base. */
export async function importBase(options: ImportOptions): Promise<BaseMeta> {
  const source = resolve(options.source);
  let stat;
  try {
    stat = statSync(source);
  } catch (error) {
    throw new VenvError('USAGE', `cannot read the base ${options.source}: ${(error as NodeJS.ErrnoException).code}`, {
      hint: 'give a directory holding a root file system, a tarball of one, or an OCI image',
    });
  }
  if (!stat.isDirectory() && !stat.isFile())
    throw new VenvError('USAGE', `the base ${options.source} is neither a directory nor a file`, {
      hint: 'give a directory holding a root file system, a tarball of one, or an OCI image',
    });
  await mkdir(basesDir(options.home), { recursive: true, mode: 0o700 });
  await sweepImports(options.home, options.mapping);
  const staging = join(basesDir(options.home), `.import-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    const found = await readSource(source, stat.isDirectory(), staging, options);
    const id = idOfDigest(found.digest);
    const stored = storedBases(options.home).includes(id) ? readBaseMeta(options.home, id) : undefined;
    if (stored) return stored;
    const tree = join(staging, 'tree');
    await mkdir(tree, { mode: 0o755 });
    let bytes = 0;
    const total = found.layers.reduce((sum, layer) => sum + layer.bytes, 0) * 2;
    let done = total / 2;
    for (const [i, layer] of found.layers.entries()) {
      const into = join(staging, `layer-${i}`);
      await mkdir(into, { mode: 0o755 });
      const before = done;
      const stats = await extractLayer({
        file: layer.path,
        into,
        mapping: options.mapping,
        // Opaque directories as `.wh..wh..opq` files, which apply-layer.js reads.
        backend: 'fuse-overlayfs',
        dropDevices: true,
        signal: options.signal,
        onProgress: options.onProgress && ((read) => options.onProgress?.((done = before + read), total)),
      });
      bytes += stats.bytes;
      await inNamespace(options.mapping, [into, tree], options.signal);
      await removeTree(into, options.mapping);
      done = before + layer.bytes;
    }
    await inNamespace(options.mapping, ['--finish', tree, ...mountPoints(), '--', '/etc/resolv.conf'], options.signal);
    const meta: BaseMeta = {
      version: 1,
      id,
      digest: found.digest,
      kind: found.kind,
      source,
      imported: new Date().toISOString(),
      bytes,
      config: found.config,
    };
    await writeFile(join(staging, 'base.json'), `${JSON.stringify(meta, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    for (const name of await readdir(staging))
      if (name !== 'tree' && name !== 'base.json') await removeTree(join(staging, name), options.mapping);
    try {
      await rename(staging, baseDir(options.home, id));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another import of the same source won: use its base.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      const other = readBaseMeta(options.home, id);
      if (!other) throw error;
      return other;
    }
    return meta;
  } finally {
    await removeTree(staging, options.mapping).catch(() => undefined);
  }
}

interface Found {
  digest: string;
  kind: BaseKind;
  config: BaseConfig;
  layers: ImageLayer[];
}

const NO_CONFIG: BaseConfig = { env: [], workingDir: '', user: '' };

async function readSource(source: string, isDir: boolean, staging: string, options: ImportOptions): Promise<Found> {
  const progress = progressOver(source, isDir, options.onProgress);
  if (isDir) {
    if (exists(join(source, 'oci-layout'))) return { kind: 'oci-layout', ...readOciLayout(source, progress) };
    const file = join(staging, 'source.tar');
    await tarDirectory(source, file, options.signal);
    return {
      kind: 'directory',
      digest: fileDigest(file),
      config: NO_CONFIG,
      layers: [{ path: file, bytes: statSync(file).size }],
    };
  }
  const members = await imageMembers(source);
  if (members.has('oci-layout') || members.has('manifest.json')) {
    const unpacked = join(staging, 'image');
    await mkdir(unpacked, { mode: 0o700 });
    // Unpacked with your own id only: nothing in an image's own files needs another owner.
    await extractLayer({
      file: source,
      into: unpacked,
      mapping: 'single',
      backend: 'fuse-overlayfs',
      signal: options.signal,
    });
    const image: Image = members.has('oci-layout')
      ? readOciLayout(unpacked, progress)
      : readDockerArchive(unpacked, progress);
    return { kind: members.has('oci-layout') ? 'oci-archive' : 'docker-archive', ...image };
  }
  return {
    kind: 'tarball',
    digest: fileDigest(source, progress),
    config: NO_CONFIG,
    layers: [{ path: source, bytes: statSync(source).size }],
  };
}

/** Reports the checksum pass as the first half of the work. */
function progressOver(
  source: string,
  isDir: boolean,
  report?: (done: number, total: number) => void,
): ((n: number) => void) | undefined {
  if (!report || isDir) return undefined;
  const total = statSync(source).size * 2;
  let done = 0;
  return (bytes) => report((done += bytes), total);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function fileDigest(path: string, onBytes?: (n: number) => void): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return sha256OfFd(fd, onBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * The top-level names of an uncompressed tarball that mark an image archive (oci-archive
 * and docker-archive are not compressed); none for a compressed one, a root file system.
 * GNU tar lists a regular file by seeking past the data, and escapes odd names.
 */
async function imageMembers(file: string): Promise<Set<string>> {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const head = Buffer.alloc(SNIFF_BYTES);
  let length: number;
  try {
    length = readSync(fd, head, 0, SNIFF_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (detectCompression(head.subarray(0, length)) !== 'none') return new Set();
  const listed = await run('tar', ['--list', '--file', file], { env: { ...process.env, LC_ALL: 'C' } });
  // One tar cannot list is no image archive: the extraction says what is wrong with it.
  if (listed.exitCode !== 0) return new Set();
  const names = listed.stdout.split('\n').map((line) => line.replace(/^\.\//, ''));
  return new Set(names.filter((name) => name === 'oci-layout' || name === 'manifest.json'));
}

/**
 * A directory as one tar stream in a canonical form, so that the same tree gives the
 * same digest: names sorted, numeric owners, pax headers named without a pid and with no
 * atime or ctime. Your own files are root's in it (you are root in an env, and a tree you
 * made without root is all yours).
 */
async function tarDirectory(dir: string, file: string, signal?: AbortSignal): Promise<void> {
  const maps = join(file, '..');
  const { uid, gid } = userInfo();
  await writeFile(join(maps, 'owner-map'), `+${uid} root:0\n`);
  await writeFile(join(maps, 'group-map'), `+${gid} root:0\n`);
  const result = await run(
    'tar',
    [
      '--create',
      `--file=${file}`,
      `--directory=${dir}`,
      '--sort=name',
      '--format=posix',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime,exthdr.mtime=0',
      '--numeric-owner',
      `--owner-map=${join(maps, 'owner-map')}`,
      `--group-map=${join(maps, 'group-map')}`,
      '--xattrs',
      '--xattrs-include=user.*',
      '--xattrs-include=security.capability',
      '.',
    ],
    { env: { ...process.env, LC_ALL: 'C' }, signal },
  );
  if (result.exitCode !== 0) {
    const why =
      result.stderr.split('\n').find((line) => line.startsWith('tar: ')) ?? `tar exited with ${result.exitCode}`;
    throw new VenvError('IO_FAILED', `cannot read the base directory ${dir}: ${why.slice(5)}`, {
      hint: 'a tree with files you cannot read (made with sudo): give a tarball of it made as root instead',
    });
  }
}

/** Runs apply-layer.js as root of a user namespace with the mapping. */
async function inNamespace(mapping: Mapping, args: string[], signal?: AbortSignal): Promise<void> {
  const script = new URL('./apply-layer.js', import.meta.url).pathname;
  const [file, argv] = inUserns(mapping, [process.execPath, script, ...args]);
  const result = await run(file, argv, { signal });
  if (result.exitCode !== 0)
    throw new VenvError(
      'IO_FAILED',
      `cannot apply a layer of the base: ${result.stderr.trim().split('\n').pop() ?? ''}`,
    );
}

/** Removes what imports that were killed left (their pid is gone). */
async function sweepImports(home: string, mapping: Mapping): Promise<void> {
  for (const entry of readdirSync(basesDir(home))) {
    const pid = Number(STAGING.exec(entry)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await removeTree(join(basesDir(home), entry), mapping).catch(() => undefined);
  }
}
