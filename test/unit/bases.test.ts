// Pure parts of bases (create --base): the image defaults handed to the shell side, the
// read-only bind of the store, reading an OCI layout that lies, and applying a layer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { applyLayer, finishTree } from '../../src/bases/apply-layer.js';
import { readOciLayout } from '../../src/bases/oci-image.js';
import { bindsFstab } from '../../src/runtime/mount-plan.js';
import { runtimeBaseEnv } from '../../src/store/bases.js';
import { baseOfNote, baseNote } from '../../src/archive/base-note.js';

const scratch = mkdtempSync(join(tmpdir(), 'venv-unit-bases-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('runtimeBaseEnv', () => {
  test("keeps names a shell can export, leaves out LD_*, venv's own names, steering names and broken pairs, adds the WorkingDir and User", () => {
    const text = runtimeBaseEnv({
      env: [
        'PATH=/usr/local/bin:/usr/bin',
        'LD_PRELOAD=/tmp/evil.so',
        'A B=1',
        'NOVALUE',
        'X=a=b',
        'Y=two\nlines',
        '=x',
        // An image cannot choose the user over --user, nor the directory, through its Env.
        'VENV_USER_OPTION=root',
        'VENV_BASE_USER=root',
        'VENV_AS=root',
        'VENV_WORKDIR=/etc',
        // Nor steer session.sh or the host programs it runs before the chroot.
        'IFS=x',
        'BASH_ENV=/tmp/x',
        'GLIBC_TUNABLES=glibc.malloc.check=3',
        'GCONV_PATH=/tmp',
      ],
      workingDir: '/srv/app',
      user: 'nobody',
    });
    assert.equal(text, 'PATH=/usr/local/bin:/usr/bin\nX=a=b\nVENV_WORKDIR=/srv/app\nVENV_BASE_USER=nobody\n');
  });

  test('a User venv could not look up is left out: the env is entered as root', () => {
    for (const user of ['a:b:c', 'two words', 'x\ny', 'a|b', ':0', `${'u'.repeat(65)}`])
      assert.equal(runtimeBaseEnv({ env: [], workingDir: '', user }), '', user);
    assert.equal(runtimeBaseEnv({ env: [], workingDir: '', user: '1000:1000' }), 'VENV_BASE_USER=1000:1000\n');
  });

  test('a relative WorkingDir is not used; no config gives nothing', () => {
    assert.equal(runtimeBaseEnv({ env: [], workingDir: 'app', user: '' }), '');
    assert.equal(runtimeBaseEnv(undefined), '');
  });
});

describe('the note that names the base in an archive', () => {
  test('round trip, and no base in other comments', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    assert.equal(
      baseOfNote(`venv: committed while in use; ${baseNote('abababababababab', digest)}`),
      `abababababababab ${digest}`,
    );
    assert.equal(baseOfNote('venv: committed while the env was in use (--live)'), undefined);
  });
});

describe('bindsFstab on a base', () => {
  const exists = () => true;
  const sharing = { share: ['home', 'tmp', 'run'] as const, privateHome: '/x/home' };

  test('the store is bound read-only over itself where the env sees it: the shared home or /tmp', () => {
    const home = bindsFstab(
      '/m',
      exists,
      [],
      '/home/me',
      { ...sharing, share: [...sharing.share] },
      {
        store: '/home/me/.local/share/venv/bases',
      },
    );
    assert.match(
      home,
      /^\/home\/me\/\.local\/share\/venv\/bases \/m\/home\/me\/\.local\/share\/venv\/bases none bind,ro 0 0$/m,
    );
    const tmp = bindsFstab(
      '/m',
      exists,
      [],
      '/home/me',
      { ...sharing, share: [...sharing.share] },
      { store: '/tmp/v/bases' },
    );
    assert.match(tmp, /^\/tmp\/v\/bases \/m\/tmp\/v\/bases none bind,ro 0 0$/m);
  });

  test('not where the env does not see it (home kept private, a store elsewhere), nor for an env over /', () => {
    const privateHome = bindsFstab(
      '/m',
      exists,
      [],
      '/home/me',
      { share: ['tmp'], privateHome: '/x/home' },
      {
        store: '/home/me/.local/share/venv/bases',
      },
    );
    assert.doesNotMatch(privateHome, /bind,ro/);
    const elsewhere = bindsFstab(
      '/m',
      exists,
      [],
      '/home/me',
      { ...sharing, share: [...sharing.share] },
      { store: '/srv/venv/bases' },
    );
    assert.doesNotMatch(elsewhere, /bind,ro/);
    assert.doesNotMatch(bindsFstab('/m', exists, [], '/home/me'), /bind,ro/);
  });
});

const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A layout of one image with one (empty) layer; `tweak` may change the JSON before it is written. */
function layout(name: string, tweak: { manifests?: (m: object[]) => object[]; layerBytes?: Buffer } = {}): string {
  const dir = join(scratch, name);
  mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
  const put = (bytes: Buffer | string) => {
    const digest = sha(bytes);
    writeFileSync(`${dir}/blobs/sha256/${digest.slice(7)}`, bytes);
    return { digest, size: Buffer.byteLength(bytes) };
  };
  const layer = tweak.layerBytes ?? Buffer.alloc(1024);
  const layerBlob = { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(layer) };
  const config = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    ...put(JSON.stringify({ config: { Env: ['A=1'] } })),
  };
  const manifest = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...put(JSON.stringify({ schemaVersion: 2, config, layers: [layerBlob] })),
  };
  writeFileSync(`${dir}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const manifests = tweak.manifests ? tweak.manifests([manifest]) : [manifest];
  writeFileSync(`${dir}/index.json`, JSON.stringify({ schemaVersion: 2, manifests }));
  return dir;
}

describe('readOciLayout', () => {
  test('reads a good layout: the manifest digest, the config, the layer', () => {
    const image = readOciLayout(layout('good'));
    assert.match(image.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(image.config, { env: ['A=1'], workingDir: '', user: '' });
    assert.equal(image.layers.length, 1);
    assert.equal(image.layers[0]?.bytes, 1024);
  });

  test('refuses a blob of another size than its descriptor says (no read past it)', () => {
    const dir = layout('grown');
    const [blob] = readdirSync(`${dir}/blobs/sha256`).filter(
      (name) => readFileSync(`${dir}/blobs/sha256/${name}`).length === 1024,
    );
    writeFileSync(`${dir}/blobs/sha256/${blob}`, Buffer.alloc(4096));
    assert.throws(() => readOciLayout(dir), /has 4096 bytes where its descriptor says 1024/);
  });

  test('refuses a blob that is a FIFO at once (it would block a reader)', () => {
    const dir = layout('fifo');
    const [blob] = readdirSync(`${dir}/blobs/sha256`).filter(
      (name) => readFileSync(`${dir}/blobs/sha256/${name}`).length === 1024,
    );
    rmSync(`${dir}/blobs/sha256/${blob}`);
    execFileSync('mkfifo', [`${dir}/blobs/sha256/${blob}`]);
    assert.throws(() => readOciLayout(dir), /is not a regular file/);
  });

  test('refuses an index of several images none of which is for this machine, and picks the one that is', () => {
    const other = (m: object[]) => [
      { ...m[0], platform: { os: 'linux', architecture: 'mips64le' } },
      { ...m[0], platform: { os: 'linux', architecture: 's390x' } },
    ];
    assert.throws(
      () => readOciLayout(layout('foreign', { manifests: other })),
      /lists 2 images and not exactly one for linux\//,
    );
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const mixed = (m: object[]) => [
      { ...m[0], platform: { os: 'linux', architecture: 'mips64le' } },
      { ...m[0], platform: { os: 'linux', architecture: arch } },
    ];
    assert.equal(readOciLayout(layout('mixed', { manifests: mixed })).layers.length, 1);
  });

  test('refuses a digest of another algorithm, and a size that is not a number', () => {
    assert.throws(
      () => readOciLayout(layout('sha512', { manifests: (m) => [{ ...m[0], digest: `sha512:${'0'.repeat(128)}` }] })),
      /venv takes sha256 digests only/,
    );
    assert.throws(
      () => readOciLayout(layout('nosize', { manifests: (m) => [{ ...m[0], size: '12' }] })),
      /has no valid size/,
    );
  });
});

describe('applyLayer', () => {
  test('merges directories, replaces files and whole trees, honours an opaque marker', () => {
    const tree = join(scratch, 'tree');
    const layer = join(scratch, 'layer');
    mkdirSync(`${tree}/etc/keep`, { recursive: true });
    mkdirSync(`${tree}/opt/old`, { recursive: true });
    mkdirSync(`${tree}/var/dir-then-file`, { recursive: true });
    writeFileSync(`${tree}/etc/keep/a`, 'a');
    writeFileSync(`${tree}/etc/replaced`, 'old');
    writeFileSync(`${tree}/opt/old/x`, 'x');
    mkdirSync(`${layer}/etc/new`, { recursive: true });
    mkdirSync(`${layer}/opt`, { recursive: true });
    mkdirSync(`${layer}/var`, { recursive: true });
    writeFileSync(`${layer}/etc/replaced`, 'new');
    writeFileSync(`${layer}/etc/new/b`, 'b');
    writeFileSync(`${layer}/opt/.wh..wh..opq`, '');
    writeFileSync(`${layer}/opt/fresh`, 'f');
    writeFileSync(`${layer}/var/dir-then-file`, 'now a file');
    applyLayer(layer, tree);
    assert.deepEqual(readdirSync(`${tree}/etc`).sort(), ['keep', 'new', 'replaced']);
    assert.equal(readFileSync(`${tree}/etc/replaced`, 'utf8'), 'new');
    assert.equal(readFileSync(`${tree}/etc/keep/a`, 'utf8'), 'a');
    assert.deepEqual(readdirSync(`${tree}/opt`), ['fresh'], 'the opaque marker hid the old entries and is gone');
    assert.equal(readFileSync(`${tree}/var/dir-then-file`, 'utf8'), 'now a file');
  });

  test('finishTree makes the mount points, replacing what is not a directory (or a file: a symlink)', () => {
    const tree = join(scratch, 'finish');
    mkdirSync(tree);
    execFileSync('ln', ['-s', '/etc', `${tree}/tmp`]);
    writeFileSync(`${tree}/home`, 'a file');
    mkdirSync(`${tree}/etc`);
    execFileSync('ln', ['-s', '/home/me/.bashrc', `${tree}/etc/resolv.conf`]);
    finishTree(tree, ['/tmp', '/home', '/home/me', '/proc', '/etc'], ['/etc/resolv.conf']);
    assert.deepEqual(readdirSync(tree).sort(), ['etc', 'home', 'proc', 'tmp']);
    assert.equal(
      execFileSync('stat', ['-c', '%F %s', `${tree}/etc/resolv.conf`], { encoding: 'utf8' }),
      'regular empty file 0\n',
    );
    assert.deepEqual(readdirSync(`${tree}/home`), ['me']);
    assert.equal(execFileSync('stat', ['-c', '%F %a', `${tree}/tmp`], { encoding: 'utf8' }), 'directory 1777\n');
  });
});
