// Shared by the bases tests (bases*.test.ts): the sources they make, offline and
// deterministic (a root file system from busybox-static and a hand-written /etc/os-release,
// an OCI image layout of two layers: a whiteout and an opaque directory in the second, Env
// and WorkingDir in its config), and the helpers that run venv on them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Type } from '../../src/archive/tar-header.js';
import { type E2E, skipReason } from '../helpers/e2e.js';
import { archive, entry } from '../helpers/tar-fixtures.js';

export const BUSYBOX = '/bin/busybox';
export const skip =
  skipReason || (existsSync(BUSYBOX) ? false : 'busybox-static is not installed (apt-get install busybox-static)');
export const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;
export const OS_RELEASE = 'PRETTY_NAME="Tiny Test Linux"\nID=tiny\nVERSION_ID=1\n';

export interface Listed {
  id: string;
  digest: string;
  kind: string;
  source: string;
  bytes: number;
  envs: string[];
  config: { env: string[]; workingDir: string; user: string };
}

/** The helpers that need the test file's VENV_HOME. */
export function basesHelpers(e2e: E2E) {
  const bases = async (): Promise<Listed[]> => {
    const result = await e2e.venv(['bases', '--json']);
    assert.equal(result.exitCode, 0, result.stderr);
    return JSON.parse(result.stdout) as Listed[];
  };
  const storeEntries = () => (existsSync(`${e2e.home}/bases`) ? readdirSync(`${e2e.home}/bases`).sort() : []);
  const envBase = (name: string) =>
    (JSON.parse(readFileSync(`${e2e.envDir(name)}/env.json`, 'utf8')) as { base?: string }).base;

  async function inEnv(name: string, script: string, cwd?: string): Promise<string> {
    const result = await e2e.venv(['run', name, '--', 'sh', '-c', script], { cwd });
    assert.equal(result.exitCode, 0, `${name}: ${script}: ${result.stderr}`);
    return result.stdout;
  }

  async function create(name: string, source: string): Promise<string> {
    const result = await e2e.venv(['create', '--base', source, name]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stderr, '', 'no progress on a pipe');
    const id = envBase(name);
    assert.ok(id, 'env.json names its base');
    assert.equal(result.stdout, `created env "${name}" on base ${id}; enter it with: venv shell ${name}\n`);
    return id;
  }

  return { bases, storeEntries, envBase, inEnv, create };
}

/** A root file system: busybox and its applets, /etc/os-release, a few files to change. */
export function makeRoot(dir: string): void {
  mkdirSync(`${dir}/bin`, { recursive: true });
  mkdirSync(`${dir}/etc`);
  mkdirSync(`${dir}/opt/old`, { recursive: true });
  mkdirSync(`${dir}/srv/app`, { recursive: true });
  execFileSync('cp', [BUSYBOX, `${dir}/bin/busybox`]);
  for (const applet of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', `${dir}/bin/${applet}`);
  }
  writeFileSync(`${dir}/etc/os-release`, OS_RELEASE);
  writeFileSync(`${dir}/etc/passwd`, 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(`${dir}/etc/group`, 'root:x:0:\n');
  writeFileSync(`${dir}/etc/doomed`, 'doomed\n');
  writeFileSync(`${dir}/opt/old/file`, 'old\n');
}

export const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

export function putBlob(layout: string, mediaType: string, bytes: Buffer): Blob {
  const digest = sha256(bytes);
  mkdirSync(`${layout}/blobs/sha256`, { recursive: true });
  writeFileSync(`${layout}/blobs/sha256/${digest.slice(7)}`, bytes);
  return { mediaType, digest, size: bytes.length };
}

/** The second layer: a whiteout of /etc/doomed, /opt made opaque, two new files. */
export function secondLayer(): Buffer {
  return archive(
    [entry('etc/.wh.doomed')],
    [entry('etc/layer2'), 'two\n'],
    [entry('opt/', { type: Type.dir, mode: 0o755 })],
    [entry('opt/.wh..wh..opq')],
    [entry('opt/new'), 'new\n'],
    // Owned by an id other than root's, readable by it alone.
    [entry('srv/app/owned', { uid: 1000, gid: 1000, mode: 0o600 }), 'owned\n'],
  );
}

/** An OCI image layout of two layers (the first gzip-compressed) with Env and WorkingDir. */
export function makeLayout(
  layout: string,
  root: string,
  extra: Record<string, unknown> = {},
): { manifest: string; config: Blob; layers: Buffer[] } {
  const first = execFileSync('tar', ['--create', '--directory', root, '--numeric-owner', '.'], {
    maxBuffer: 64 << 20,
  });
  const layers = [first, secondLayer()];
  mkdirSync(layout, { recursive: true });
  writeFileSync(`${layout}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const layerBlobs = [
    putBlob(layout, 'application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(first)),
    putBlob(layout, 'application/vnd.oci.image.layer.v1.tar', layers[1] as Buffer),
  ];
  const config = putBlob(
    layout,
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/bin:/usr/bin', 'VENV_TEST_IMAGE=from-the-image'], WorkingDir: '/srv/app', ...extra },
        rootfs: { type: 'layers', diff_ids: layers.map(sha256) },
      }),
    ),
  );
  const manifest = putBlob(
    layout,
    'application/vnd.oci.image.manifest.v1+json',
    Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: layerBlobs })),
  );
  writeFileSync(`${layout}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [manifest] }));
  return { manifest: manifest.digest, config, layers };
}

/** `docker save`'s older form of the same image: manifest.json, a config, layer tarballs. */
export function makeDockerArchive(dir: string, config: Blob, layers: Buffer[], layout: string): void {
  mkdirSync(dir);
  writeFileSync(
    `${dir}/${config.digest.slice(7)}.json`,
    readFileSync(`${layout}/blobs/sha256/${config.digest.slice(7)}`),
  );
  layers.forEach((layer, i) => {
    mkdirSync(`${dir}/l${i}`);
    writeFileSync(`${dir}/l${i}/layer.tar`, layer);
  });
  writeFileSync(
    `${dir}/manifest.json`,
    JSON.stringify([
      { Config: `${config.digest.slice(7)}.json`, RepoTags: ['tiny:1'], Layers: ['l0/layer.tar', 'l1/layer.tar'] },
    ]),
  );
}

/** A tar archive without its end (the zero blocks), so that more entries can follow. */
export function withoutEnd(tar: Buffer): Buffer {
  let at = 0;
  while (at + 512 <= tar.length && tar.subarray(at, at + 512).some((byte) => byte !== 0)) {
    const size = parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString('latin1')
        .replace(/\0.*$/, '')
        .trim() || '0',
      8,
    );
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return tar.subarray(0, at);
}
/** The sources every bases test file starts from: a root file system and an OCI layout of it. */
export function makeSources(label: string): {
  dir: string;
  root: string;
  layout: string;
  image: ReturnType<typeof makeLayout>;
} {
  const dir = mkdtempSync(`/tmp/venv-test-${label}-src-`);
  const root = join(dir, 'root');
  const layout = join(dir, 'layout');
  makeRoot(root);
  return { dir, root, layout, image: makeLayout(layout, root) };
}
