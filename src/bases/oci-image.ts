// Reading an OCI image layout (a directory, or one unpacked from an oci-archive) and a
// `docker save` archive's manifest.json, both untrusted: every blob is named by a digest
// that must be `sha256:` and 64 hex digits (so it cannot name a path outside blobs/),
// opened without following a symlink, only if it is a regular file of the size its
// descriptor says, and its sha256 must match before anything of it is used. JSON files
// are read up to JSON_LIMIT. Which image of a multi-image index is used: the only one,
// else the one for this machine's architecture.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveError } from '../archive/archive-error.js';
import { memberPath } from '../archive/path-safety.js';
import { type BaseConfig, DIGEST } from '../store/bases.js';

const JSON_LIMIT = 4 << 20;
/** Layers of one image, at most: Docker's own limit is 127 (each one is an extraction here). */
const MAX_LAYERS = 128;

export interface ImageLayer {
  /** The blob (or layer tarball) on disk, checked. */
  path: string;
  bytes: number;
}

export interface Image {
  /** The content address: the manifest's digest (OCI), the config's (docker-archive). */
  digest: string;
  config: BaseConfig;
  layers: ImageLayer[];
}

function invalid(
  message: string,
  hint = 'venv reads OCI image layouts and oci-archive/docker-archive tarballs',
): ArchiveError {
  return new ArchiveError('ARCHIVE_INVALID', `the image is not usable: ${message}`, hint);
}

/**
 * Opens a file of the image: never a FIFO or device, and not through a symlink in its last
 * component unless `follow` (`docker save` links a layer it holds twice to its first copy;
 * what is read is checked against its digest all the same).
 */
function openRegular(path: string, shown: string, follow = false): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (follow ? 0 : constants.O_NOFOLLOW) | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw invalid(`${shown} is a symlink`);
    throw invalid(`${shown} is missing (${code ?? 'unreadable'})`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw invalid(`${shown} is not a regular file`);
  }
  return { fd, size: stat.size };
}

/** sha256 of a file, read through its descriptor (the bytes checked are the bytes used). */
export function sha256OfFd(fd: number, onBytes?: (bytes: number) => void): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let position = 0;
  for (let length = readSync(fd, buffer, 0, buffer.length, position); length > 0;) {
    hash.update(buffer.subarray(0, length));
    position += length;
    onBytes?.(length);
    length = readSync(fd, buffer, 0, buffer.length, position);
  }
  return `sha256:${hash.digest('hex')}`;
}

function readJsonFile(path: string, shown: string): { value: unknown; digest: string; size: number } {
  const { fd, size } = openRegular(path, shown);
  try {
    if (size > JSON_LIMIT) throw invalid(`${shown} is over ${JSON_LIMIT} bytes`);
    const buffer = Buffer.alloc(size);
    let at = 0;
    while (at < size) {
      const length = readSync(fd, buffer, at, size - at, at);
      if (length === 0) break;
      at += length;
    }
    const bytes = buffer.subarray(0, at);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    try {
      return { value: JSON.parse(bytes.toString('utf8')) as unknown, digest, size: at };
    } catch {
      throw invalid(`${shown} is not JSON`);
    }
  } finally {
    closeSync(fd);
  }
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string };
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null) throw invalid(`${what} is not a descriptor`);
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest))
    throw invalid(`${what} has the digest "${String(d.digest).slice(0, 80)}": venv takes sha256 digests only`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw invalid(`${what} has no valid size`);
  return {
    mediaType: typeof d.mediaType === 'string' ? d.mediaType : '',
    digest: d.digest,
    size: d.size,
    platform: d.platform,
  };
}

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** A blob that is JSON: read whole, its digest and size checked. */
function readJsonBlob(layout: string, d: Descriptor, what: string): unknown {
  const { value, digest, size } = readJsonFile(blobPath(layout, d.digest), `the ${what} blob ${d.digest}`);
  if (size !== d.size || digest !== d.digest)
    throw invalid(`the ${what} blob does not match its digest ${d.digest} (got ${digest}, ${size} bytes)`);
  return value;
}

/** A layer blob: its size and sha256 checked (a read of the whole blob). */
function checkedLayer(
  path: string,
  expected: string,
  size: number | undefined,
  what: string,
  onBytes?: (n: number) => void,
): ImageLayer {
  // A docker-archive's layers have no size in the manifest, and may be links.
  const opened = openRegular(path, what, size === undefined);
  try {
    if (size !== undefined && opened.size !== size)
      throw invalid(`${what} has ${opened.size} bytes where its descriptor says ${size}`);
    const digest = sha256OfFd(opened.fd, onBytes);
    if (digest !== expected) throw invalid(`${what} does not match its digest ${expected} (got ${digest})`);
    return { path, bytes: opened.size };
  } finally {
    closeSync(opened.fd);
  }
}

const INDEX_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];
const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

function pick(manifests: unknown, where: string): Descriptor {
  if (!Array.isArray(manifests) || manifests.length === 0) throw invalid(`${where} lists no image`);
  const all = manifests.map((m, i) => descriptor(m, `${where}'s manifests[${i}]`));
  if (all.length === 1) return all[0] as Descriptor;
  const arch = GOARCH[process.arch] ?? process.arch;
  const mine = all.filter((d) => d.platform?.architecture === arch && (d.platform.os ?? 'linux') === 'linux');
  if (mine.length === 1) return mine[0] as Descriptor;
  throw invalid(
    `${where} lists ${all.length} images and not exactly one for linux/${arch}`,
    'make a layout of one image',
  );
}

function imageConfig(value: unknown): BaseConfig {
  const config = ((value as { config?: unknown } | null)?.config ?? {}) as {
    Env?: unknown;
    WorkingDir?: unknown;
    User?: unknown;
  };
  const env = Array.isArray(config.Env) ? config.Env.filter((e): e is string => typeof e === 'string') : [];
  return {
    env,
    workingDir: typeof config.WorkingDir === 'string' ? config.WorkingDir : '',
    user: typeof config.User === 'string' ? config.User : '',
  };
}

/** An OCI image layout directory: its manifest, config and layers, every blob checked. */
export function readOciLayout(layout: string, onBytes?: (n: number) => void): Image {
  const marker = readJsonFile(join(layout, 'oci-layout'), 'oci-layout').value as {
    imageLayoutVersion?: unknown;
  } | null;
  if (typeof marker?.imageLayoutVersion !== 'string') throw invalid('oci-layout names no imageLayoutVersion');
  let chosen = pick(
    (readJsonFile(join(layout, 'index.json'), 'index.json').value as { manifests?: unknown } | null)?.manifests,
    'index.json',
  );
  // An index may point to another index (one per platform): followed, a few levels at most.
  for (let depth = 0; INDEX_TYPES.includes(chosen.mediaType); depth++) {
    if (depth === 4) throw invalid('indexes nested too deep');
    chosen = pick(
      (readJsonBlob(layout, chosen, 'index') as { manifests?: unknown } | null)?.manifests,
      `index ${chosen.digest}`,
    );
  }
  const manifest = readJsonBlob(layout, chosen, 'manifest') as { config?: unknown; layers?: unknown } | null;
  const configDescriptor = descriptor(manifest?.config, "the manifest's config");
  const config = imageConfig(readJsonBlob(layout, configDescriptor, 'config'));
  if (!Array.isArray(manifest?.layers)) throw invalid('the manifest lists no layers');
  if (manifest.layers.length > MAX_LAYERS)
    throw invalid(`the manifest lists ${manifest.layers.length} layers, over ${MAX_LAYERS}`);
  const layers = manifest.layers.map((value, i) => {
    const d = descriptor(value, `the manifest's layers[${i}]`);
    return checkedLayer(blobPath(layout, d.digest), d.digest, d.size, `layer ${i + 1} (${d.digest})`, onBytes);
  });
  return { digest: chosen.digest, config, layers };
}

/** A path that manifest.json names inside the archive: relative, never "..". */
function archivePath(root: string, value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`manifest.json names no ${what}`);
  try {
    const path = memberPath(value);
    if (path === '') throw new Error('empty');
    return join(root, path);
  } catch {
    throw invalid(`manifest.json names ${what} "${value.slice(0, 80)}", outside the archive`);
  }
}

/** An unpacked `docker save` archive (manifest.json, a config, layer tarballs checked against its diff_ids). */
export function readDockerArchive(root: string, onBytes?: (n: number) => void): Image {
  const manifest = readJsonFile(join(root, 'manifest.json'), 'manifest.json').value;
  if (!Array.isArray(manifest) || manifest.length !== 1)
    throw invalid('manifest.json does not describe exactly one image', 'save one image: docker save IMAGE');
  const entry = manifest[0] as { Config?: unknown; Layers?: unknown };
  const configFile = readJsonFile(archivePath(root, entry.Config, 'a config'), 'the config');
  const named = /([0-9a-f]{64})(\.json)?$/.exec(String(entry.Config));
  if (named && `sha256:${named[1]}` !== configFile.digest)
    throw invalid(`the config does not match its name ${String(entry.Config)} (got ${configFile.digest})`);
  const diffIds = ((configFile.value as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids ??
    []) as unknown[];
  if (!Array.isArray(entry.Layers) || entry.Layers.length !== diffIds.length)
    throw invalid('manifest.json and the config do not list the same number of layers');
  if (entry.Layers.length > MAX_LAYERS)
    throw invalid(`manifest.json lists ${entry.Layers.length} layers, over ${MAX_LAYERS}`);
  const layers = entry.Layers.map((value, i) => {
    const expected = diffIds[i];
    if (typeof expected !== 'string' || !DIGEST.test(expected))
      throw invalid(`the config's diff_ids[${i}] is not a sha256 digest`);
    return checkedLayer(archivePath(root, value, `layer ${i + 1}`), expected, undefined, `layer ${i + 1}`, onBytes);
  });
  return { digest: configFile.digest, config: imageConfig(configFile.value), layers };
}
