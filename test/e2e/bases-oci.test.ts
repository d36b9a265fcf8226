// `venv create --base` from an OCI image: a layout of two layers (a whiteout, an opaque
// directory, a file of a non-root id), its Env and WorkingDir, an oci-archive and a
// docker-archive of the same image.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { e2eSetup, hasSubordinateIds } from '../helpers/e2e.js';
import { basesHelpers, makeDockerArchive, makeSources, OS_RELEASE, skip } from './bases-helpers.js';

const e2e = e2eSetup('bases-oci', skip);
const { bases, storeEntries, envBase, inEnv, create } = basesHelpers(e2e);

describe('envs on an OCI image', { skip }, () => {
  const sources = skip ? undefined : makeSources('bases-oci');
  const dir = sources?.dir ?? '';
  const layout = sources?.layout ?? '';
  const image = sources?.image;
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an OCI image layout: layers in order, whiteout and opaque directory honoured, Env and WorkingDir used', async () => {
    assert.ok(image);
    const id = await create('oci', layout);
    assert.equal(id, image.manifest.slice(7, 23), 'the id is the manifest digest');
    assert.equal(
      await inEnv(
        'oci',
        'cat /etc/os-release /etc/layer2; test -e /etc/doomed || echo whited-out; ls /opt; echo "$VENV_TEST_IMAGE"',
      ),
      `${OS_RELEASE}two\nwhited-out\nnew\nfrom-the-image\n`,
    );
    // The image's WorkingDir where the caller's directory is not in the env; the caller's where it is.
    assert.equal(await inEnv('oci', 'pwd', '/usr/share'), '/srv/app\n');
    assert.equal(await inEnv('oci', 'pwd', '/tmp'), '/tmp\n');
    // A file of another id than root's, in the base: root of the env changes it (a copy-up of
    // a file owned by a subordinate id), and its owner stays, in the env (on overlay; shown
    // as root's on fuse-overlayfs) and in the upper dir on the host, as in the base.
    if (hasSubordinateIds) {
      const backend = (JSON.parse(readFileSync(`${e2e.envDir('oci')}/env.json`, 'utf8')) as { backend: string })
        .backend;
      assert.equal(
        await inEnv('oci', 'echo more >> /srv/app/owned; cat /srv/app/owned; stat -c %u:%g:%a /srv/app/owned'),
        `owned\nmore\n${backend === 'overlay' ? '1000:1000' : '0:0'}:600\n`,
      );
      const inBase = statSync(`${e2e.home}/bases/${id}/tree/srv/app/owned`);
      const inUpper = statSync(`${e2e.envDir('oci')}/upper/srv/app/owned`);
      assert.notEqual(inBase.uid, process.getuid?.(), 'a subordinate id on the host');
      assert.deepEqual([inUpper.uid, inUpper.gid], [inBase.uid, inBase.gid]);
    }
    // Nothing of the markers is left in the stored tree.
    const tree = `${e2e.home}/bases/${id}/tree`;
    assert.deepEqual(readdirSync(`${tree}/opt`), ['new']);
    assert.equal(existsSync(`${tree}/etc/doomed`), false);
    assert.equal(existsSync(`${tree}/etc/.wh.doomed`), false);
    const [listed] = (await bases()).filter((base) => base.id === id);
    assert.deepEqual(listed?.config, {
      env: ['PATH=/bin:/usr/bin', 'VENV_TEST_IMAGE=from-the-image'],
      workingDir: '/srv/app',
      user: '',
    });
  });

  test('an oci-archive of that layout is the same base; a docker-archive of the image works too', async () => {
    assert.ok(image);
    const ociArchive = join(dir, 'image.oci.tar');
    execFileSync('tar', ['--create', '--file', ociArchive, '--directory', layout, '.']);
    const id = await create('oci-archive', ociArchive);
    assert.equal(id, envBase('oci'), 'an oci-archive is addressed by its manifest, as its layout');
    assert.equal((await bases()).find((base) => base.id === id)?.envs.join(), 'oci,oci-archive');

    const docker = join(dir, 'docker');
    makeDockerArchive(docker, image.config, image.layers, layout);
    const dockerArchive = join(dir, 'image.docker.tar');
    execFileSync('tar', ['--create', '--file', dockerArchive, '--directory', docker, '.']);
    const dockerId = await create('docker', dockerArchive);
    assert.equal(dockerId, image.config.digest.slice(7, 23), 'a docker-archive is addressed by its config');
    assert.equal(
      await inEnv('docker', 'cat /etc/layer2; ls /opt; echo "$VENV_TEST_IMAGE"'),
      'two\nnew\nfrom-the-image\n',
    );
    assert.equal((await e2e.venv(['rm', 'oci', 'oci-archive', 'docker'])).exitCode, 0);
    assert.equal((await e2e.venv(['bases', 'prune'])).exitCode, 0);
    assert.deepEqual(storeEntries(), []);
  });
});
