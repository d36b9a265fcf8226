// `venv create --base` of hostile sources: OCI layouts that lie (paths for digests, blobs
// that do not match, symlinked blobs), archives that climb out or write through a symlink,
// huge entries, device nodes and a /tmp that is a symlink. Each is refused (or made
// harmless) and leaves no base behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Type } from '../../src/archive/tar-header.js';
import { endOfArchive, entryHeader } from '../../src/archive/tar-write.js';
import { e2eSetup } from '../helpers/e2e.js';
import { archive, entry } from '../helpers/tar-fixtures.js';
import {
  type Blob,
  basesHelpers,
  makeDockerArchive,
  makeSources,
  ONE_ERROR,
  skip,
  withoutEnd,
} from './bases-helpers.js';

const e2e = e2eSetup('bases-hostile', skip);
const { storeEntries, inEnv, create } = basesHelpers(e2e);

describe('hostile bases', { skip }, () => {
  const sources = skip ? undefined : makeSources('bases-hostile');
  const dir = sources?.dir ?? '';
  const root = sources?.root ?? '';
  const layout = sources?.layout ?? '';
  const image = sources?.image;
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('hostile sources', () => {
    /** A copy of the layout with `change` applied to it. */
    function hostileLayout(name: string, change: (copy: string) => void): string {
      const copy = join(dir, name);
      execFileSync('cp', ['-a', layout, copy]);
      change(copy);
      return copy;
    }

    async function refused(source: string, message: RegExp): Promise<void> {
      const result = await e2e.venv(['create', '--base', source, 'hostile']);
      assert.equal(result.exitCode, 125, result.stderr);
      assert.match(result.stderr, ONE_ERROR);
      assert.match(result.stderr, message);
      assert.equal(existsSync(e2e.envDir('hostile')), false, 'no env was made');
      assert.deepEqual(
        storeEntries().filter(
          (entry) => !/^[0-9a-f]{16}$/.test(entry) || !existsSync(`${e2e.home}/bases/${entry}/base.json`),
        ),
        [],
        'no half-made base is left',
      );
    }

    test('an index that points outside the layout (a digest that is a path)', async () => {
      const copy = hostileLayout('outside', (at) => {
        const index = JSON.parse(readFileSync(`${at}/index.json`, 'utf8')) as { manifests: { digest: string }[] };
        (index.manifests[0] as { digest: string }).digest = 'sha256:../../../../../etc/passwd';
        writeFileSync(`${at}/index.json`, JSON.stringify(index));
      });
      await refused(copy, /has the digest "sha256:\.\.\/\.\.\/.*": venv takes sha256 digests only/);
    });

    test('a layer blob that does not match its digest', async () => {
      const copy = hostileLayout('mismatch', (at) => {
        const manifestDigest =
          (JSON.parse(readFileSync(`${at}/index.json`, 'utf8')) as { manifests: Blob[] }).manifests[0]?.digest ?? '';
        const manifest = JSON.parse(readFileSync(`${at}/blobs/sha256/${manifestDigest.slice(7)}`, 'utf8')) as {
          layers: Blob[];
        };
        const second = manifest.layers[1] as Blob;
        // Same size, other bytes: an /etc/passwd of the attacker's instead of layer2.
        const bytes = readFileSync(`${at}/blobs/sha256/${second.digest.slice(7)}`);
        bytes.write('X', 512);
        writeFileSync(`${at}/blobs/sha256/${second.digest.slice(7)}`, bytes);
      });
      await refused(copy, /layer 2 \(sha256:[0-9a-f]{64}\) does not match its digest/);
    });

    test('a blob that is a symlink to a file outside the layout', async () => {
      const copy = hostileLayout('symlinked', (at) => {
        const digest =
          (JSON.parse(readFileSync(`${at}/index.json`, 'utf8')) as { manifests: Blob[] }).manifests[0]?.digest ?? '';
        rmSync(`${at}/blobs/sha256/${digest.slice(7)}`);
        symlinkSync('/etc/passwd', `${at}/blobs/sha256/${digest.slice(7)}`);
      });
      await refused(copy, /the manifest blob sha256:[0-9a-f]{64} is a symlink/);
    });

    test('a docker-archive whose manifest.json names a layer outside the archive', async () => {
      assert.ok(image);
      const docker = join(dir, 'docker-outside');
      makeDockerArchive(docker, image.config, image.layers, layout);
      writeFileSync(
        `${docker}/manifest.json`,
        JSON.stringify([
          { Config: `${image.config.digest.slice(7)}.json`, Layers: ['../../../../etc/passwd', 'l1/layer.tar'] },
        ]),
      );
      const file = join(dir, 'docker-outside.tar');
      execFileSync('tar', ['--create', '--file', file, '--directory', docker, '.']);
      await refused(file, /manifest\.json names layer 1 "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd", outside the archive/);
    });

    test('a root file system tarball with a path that climbs out', async () => {
      const file = join(dir, 'climb.tar');
      writeFileSync(
        file,
        archive([entry('etc/', { type: Type.dir, mode: 0o755 })], [entry('../../venv-base-escape'), 'x\n']),
      );
      await refused(file, /entry "\.\.\/\.\.\/venv-base-escape" contains "\.\."/);
      assert.equal(existsSync(join(dir, '..', 'venv-base-escape')), false);
    });

    test('a root file system tarball with a file through a symlink', async () => {
      const file = join(dir, 'through.tar');
      writeFileSync(
        file,
        archive([entry('etc', { type: Type.symlink, linkpath: '/etc' })], [entry('etc/venv-base-planted'), 'x\n']),
      );
      await refused(file, /would be written through the symlink "etc"/);
      assert.equal(existsSync('/etc/venv-base-planted'), false);
    });

    test('a root file system tarball with a huge file is refused before it fills the disk', async () => {
      const file = join(dir, 'huge.tar');
      // The header alone: 2 TiB announced, 1 MiB of data (the fixture helper sets sizes from the data).
      writeFileSync(
        file,
        Buffer.concat([entryHeader(entry('bin/huge', { size: 2 ** 41 })), Buffer.alloc(1 << 20), endOfArchive()]),
      );
      await refused(file, /expand|space|truncated|larger/i);
    });

    test('device nodes are left out, and a /tmp that is a symlink becomes a directory (mounts stay in the env)', async () => {
      const file = join(dir, 'devices.tar');
      const rootTar = execFileSync('tar', ['--create', '--directory', root, '--numeric-owner', '.'], {
        maxBuffer: 64 << 20,
      });
      writeFileSync(
        file,
        Buffer.concat([
          withoutEnd(rootTar),
          archive(
            [entry('dev/', { type: Type.dir, mode: 0o755 })],
            [entry('dev/sda', { type: Type.blockdev, devmajor: 8, devminor: 0 })],
            [entry('tmp', { type: Type.symlink, linkpath: '/etc' })],
          ),
        ]),
      );
      const id = await create('devices', file);
      assert.equal(existsSync(`${e2e.home}/bases/${id}/tree/dev/sda`), false);
      const shared = join('/tmp', `venv-test-bases-tmp-${process.pid}`);
      writeFileSync(shared, 'host tmp\n');
      try {
        assert.equal(
          await inEnv('devices', `cat ${shared}; cat /etc/os-release | head -1`),
          'host tmp\nPRETTY_NAME="Tiny Test Linux"\n',
        );
      } finally {
        rmSync(shared, { force: true });
      }
      assert.equal((await e2e.venv(['rm', 'devices'])).exitCode, 0);
    });
  });
});
