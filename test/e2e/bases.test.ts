// `venv create NAME --base SOURCE`: an env on a root file system of its own. Offline and
// deterministic: the root file system is made here from busybox-static and a hand-written
// /etc/os-release, then given as a directory, as tarballs (zstd, gzip), as an OCI image
// layout of two layers (a whiteout and an opaque directory in the second, Env and
// WorkingDir in its config), as an oci-archive and a docker-archive of that image. Hostile
// images and tarballs are refused, or made harmless, and leave no base behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { Type } from '../../src/archive/tar-header.js';
import { endOfArchive, entryHeader } from '../../src/archive/tar-write.js';
import { e2eSetup, hasSubordinateIds, skipReason } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';
import { archive, entry } from '../helpers/tar-fixtures.js';
import { tarMembers } from './archive-helpers.js';
import { spawnVenv } from '../helpers/venv-cli.js';

const BUSYBOX = '/bin/busybox';
const skip =
  skipReason || (existsSync(BUSYBOX) ? false : 'busybox-static is not installed (apt-get install busybox-static)');
const e2e = e2eSetup('bases', skip);
const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;
const OS_RELEASE = 'PRETTY_NAME="Tiny Test Linux"\nID=tiny\nVERSION_ID=1\n';

interface Listed {
  id: string;
  digest: string;
  kind: string;
  source: string;
  bytes: number;
  envs: string[];
  config: { env: string[]; workingDir: string; user: string };
}

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

/** A root file system: busybox and its applets, /etc/os-release, a few files to change. */
function makeRoot(dir: string): void {
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

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

function putBlob(layout: string, mediaType: string, bytes: Buffer): Blob {
  const digest = sha256(bytes);
  mkdirSync(`${layout}/blobs/sha256`, { recursive: true });
  writeFileSync(`${layout}/blobs/sha256/${digest.slice(7)}`, bytes);
  return { mediaType, digest, size: bytes.length };
}

/** The second layer: a whiteout of /etc/doomed, /opt made opaque, two new files. */
function secondLayer(): Buffer {
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
function makeLayout(layout: string, root: string): { manifest: string; config: Blob; layers: Buffer[] } {
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
        config: { Env: ['PATH=/bin:/usr/bin', 'VENV_TEST_IMAGE=from-the-image'], WorkingDir: '/srv/app' },
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
function makeDockerArchive(dir: string, config: Blob, layers: Buffer[], layout: string): void {
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
function withoutEnd(tar: Buffer): Buffer {
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

describe('envs on a base (create --base)', { skip }, () => {
  const dir = skip ? '' : mkdtempSync('/tmp/venv-test-bases-src-');
  const root = join(dir, 'root');
  const layout = join(dir, 'layout');
  let image: ReturnType<typeof makeLayout> | undefined;
  if (!skip) {
    makeRoot(root);
    image = makeLayout(layout, root);
  }
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a directory: its os-release shows, changes stay in the env, the shared dirs are the host's", async () => {
    const id = await create('dir1', root);
    assert.equal(await inEnv('dir1', 'cat /etc/os-release'), OS_RELEASE);
    // Your home and /tmp are the host's, live, as on envs over /.
    const shared = join('/tmp', `venv-test-bases-shared-${process.pid}`);
    writeFileSync(shared, 'from the host\n');
    try {
      assert.equal(
        await inEnv('dir1', `cat ${shared}; test -d "$HOME" && echo home-shared`),
        'from the host\nhome-shared\n',
      );
    } finally {
      rmSync(shared, { force: true });
    }
    await inEnv('dir1', 'echo mine > /etc/venv-base-change; rm /etc/doomed; echo more >> /opt/old/file');
    assert.equal(
      await inEnv('dir1', 'cat /etc/venv-base-change /opt/old/file; test -e /etc/doomed || echo gone'),
      'mine\nold\nmore\ngone\n',
    );
    // The change is in the env's upper dir, not in the stored base, nor on the host.
    const tree = `${e2e.home}/bases/${id}/tree`;
    assert.equal(readFileSync(`${e2e.envDir('dir1')}/upper/etc/venv-base-change`, 'utf8'), 'mine\n');
    assert.equal(existsSync(`${tree}/etc/venv-base-change`), false);
    assert.equal(readFileSync(`${tree}/etc/doomed`, 'utf8'), 'doomed\n');
    assert.equal(readFileSync(`${tree}/opt/old/file`, 'utf8'), 'old\n');
    assert.equal(existsSync('/etc/venv-base-change'), false);
    // Names resolve as on the host: its resolv.conf, read-only, over the base's (which has none).
    assert.equal(await inEnv('dir1', 'cat /etc/resolv.conf'), readFileSync('/etc/resolv.conf', 'utf8'));
    assert.match(await inEnv('dir1', 'echo x 2>&1 > /etc/resolv.conf || :'), /Read-only file system/);
    // Without a WorkingDir, a directory of the caller's that the base lacks gives /.
    assert.equal(await inEnv('dir1', 'pwd', '/usr/share'), '/\n');
  });

  test('the store of bases is read-only inside an env (no env can change a base others stand on)', async () => {
    const [base] = await bases();
    assert.ok(base);
    const out = await inEnv(
      'dir1',
      `touch ${e2e.home}/bases/${base.id}/tree/etc/planted 2>&1 || echo refused; echo x > ${e2e.home}/bases/${base.id}/base.json 2>&1 || echo refused`,
    );
    assert.match(out, /Read-only file system[\s\S]*refused[\s\S]*refused/);
    assert.equal(existsSync(`${e2e.home}/bases/${base.id}/tree/etc/planted`), false);
  });

  test('two envs from the same source share one stored base; bases rm is refused while one uses it', async () => {
    const id = await create('dir2', root);
    assert.equal(envBase('dir1'), id, 'the same content gives the same base');
    assert.deepEqual(storeEntries(), [id]);
    const [listed] = await bases();
    assert.deepEqual(listed?.envs, ['dir1', 'dir2']);
    assert.equal(listed?.kind, 'directory');
    assert.equal(listed?.source, root);
    assert.equal(await inEnv('dir2', 'test -e /etc/venv-base-change || echo not-dir1s'), 'not-dir1s\n');

    const refused = await e2e.venv(['bases', 'rm', id.slice(0, 6)]);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, ONE_ERROR);
    assert.match(refused.stderr, new RegExp(`base ${id} is in use by envs "dir1", "dir2"`));
    assert.ok(existsSync(`${e2e.home}/bases/${id}/tree/bin/busybox`));

    // The base stays when its last env goes, until bases rm or prune removes it.
    assert.equal((await e2e.venv(['rm', 'dir1', 'dir2'])).exitCode, 0);
    const table = await e2e.venv(['bases']);
    assert.match(
      table.stdout,
      new RegExp(`^ID +KIND +SIZE +ENVS +SOURCE\\n${id} +directory +[0-9.]+ MiB +- +${root}\\n$`),
    );
    const removed = await e2e.venv(['bases', 'rm', id]);
    assert.equal(removed.exitCode, 0, removed.stderr);
    assert.equal(removed.stdout, `removed base ${id}\n`);
    assert.deepEqual(storeEntries(), []);
    const none = await e2e.venv(['bases', 'rm', id]);
    assert.equal(none.exitCode, 125);
    assert.match(none.stderr, ONE_ERROR);
  });

  for (const compression of ['zstd', 'gzip'] as const) {
    test(`a tarball of a root file system (${compression})`, async () => {
      const file = join(dir, `root.tar.${compression}`);
      execFileSync('sh', ['-c', `tar --create --directory "$1" . | ${compression} -c > "$2"`, 'sh', root, file]);
      const name = `tar-${compression}`;
      const id = await create(name, file);
      assert.equal(id, sha256(readFileSync(file)).slice(7, 23), 'the id is the sha256 of the file');
      assert.equal(await inEnv(name, 'cat /etc/os-release; cat /etc/doomed'), `${OS_RELEASE}doomed\n`);
      const listed = (await bases()).find((base) => base.id === id);
      assert.equal(listed?.kind, 'tarball');
      assert.equal((await e2e.venv(['rm', name])).exitCode, 0);
      assert.equal((await e2e.venv(['bases', 'prune'])).stdout, `removed base ${id}\n`);
    });
  }

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

  test("commit holds only the env's own changes and names the base; restore needs that base stored", async () => {
    const id = await create('committed', root);
    await inEnv('committed', 'echo mine > /etc/venv-committed; rm /etc/doomed');
    // diff compares with the base, not with the host's /.
    const changes = await e2e.venv(['diff', 'committed']);
    assert.equal(changes.exitCode, 0, changes.stderr);
    assert.deepEqual(changes.stdout.split('\n').filter(Boolean).sort(), [
      'added      /etc/venv-committed',
      'deleted    /etc/doomed',
    ]);
    const file = join(dir, 'committed.tar');
    const made = await e2e.venv(['commit', 'committed', '-o', file, '--compress', 'none']);
    assert.equal(made.exitCode, 0, made.stderr);
    const names = tarMembers(file).map((member) => member.name);
    assert.deepEqual(names.filter((name) => !name.startsWith('venv/')).sort(), [
      'etc',
      'etc/.wh.doomed',
      'etc/venv-committed',
    ]);
    assert.ok(!names.includes('bin/busybox'), 'the base is not in the archive');
    assert.match(
      readFileSync(file, 'latin1'),
      new RegExp(`comment=venv: made on base ${id} \\(sha256:[0-9a-f]{64}\\)`),
    );

    // Restored where the base is stored: an env on it, with the changes.
    const restored = await e2e.venv(['restore', file, 'restored']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.equal(envBase('restored'), id);
    assert.equal(
      await inEnv('restored', 'cat /etc/venv-committed /etc/os-release; test -e /etc/doomed || echo gone'),
      `mine\n${OS_RELEASE}gone\n`,
    );
    // Not into an env on the host's /: the archive means nothing there.
    await e2e.create('on-host');
    const mixed = await e2e.venv(['restore', '--force', file, 'on-host']);
    assert.equal(mixed.exitCode, 125);
    assert.match(mixed.stderr, ONE_ERROR);
    assert.match(mixed.stderr, new RegExp(`changes made on base ${id}, but env "on-host" stands on the host's /`));

    // Nor are they applied to the host: a deletion there would delete the host's file.
    const applied = await e2e.venv(['apply', '-y', 'committed']);
    assert.equal(applied.exitCode, 125);
    assert.match(applied.stderr, ONE_ERROR);
    assert.match(
      applied.stderr,
      new RegExp(`env "committed" stands on base ${id}: its changes are not changes of the host`),
    );
    // Without the base, restore refuses and makes nothing.
    assert.equal((await e2e.venv(['rm', 'committed', 'restored', 'on-host'])).exitCode, 0);
    assert.equal((await e2e.venv(['bases', 'prune'])).exitCode, 0);
    const missing = await e2e.venv(['restore', file, 'orphan']);
    assert.equal(missing.exitCode, 125);
    assert.match(missing.stderr, ONE_ERROR);
    assert.match(
      missing.stderr,
      new RegExp(`an env on base ${id} \\(sha256:[0-9a-f]{64}\\), which is not stored here`),
    );
    assert.equal(existsSync(e2e.envDir('orphan')), false);
    assert.deepEqual(
      readdirSync(`${e2e.home}/envs`).filter((entry) => entry.includes('orphan')),
      [],
    );
  });

  test(
    'the prompt of venv shell names the env (the base has no bash: its /bin/sh)',
    { skip: !hasScript && 'needs script(1)' },
    async () => {
      await create('prompt', root);
      const { status, screen } = onTerminal(e2e.home, ['shell', 'prompt'], 'cat /etc/os-release\nexit\n');
      assert.equal(status, 0, screen);
      assert.match(screen, /\(prompt\) /);
      assert.match(screen, /Tiny Test Linux/);
      assert.equal((await e2e.venv(['rm', 'prompt'])).exitCode, 0);
    },
  );

  test(
    'an import that takes a while draws one progress line on a terminal, none with --quiet; Ctrl-C leaves nothing',
    { skip: !hasScript && 'needs script(1)' },
    async () => {
      const big = join(dir, 'big-root');
      execFileSync('cp', ['-a', root, big]);
      // Random bytes: gzip cannot make the import too quick to show a bar.
      execFileSync('sh', ['-c', 'head -c 48M /dev/urandom > "$1/opt/data"', 'sh', big]);
      const file = join(dir, 'big.tar.gz');
      execFileSync('sh', ['-c', 'tar --create --directory "$1" . | gzip -1 > "$2"', 'sh', big, file]);
      rmSync(big, { recursive: true, force: true });
      const shown = onTerminal(e2e.home, ['create', '--base', file, 'big']);
      assert.equal(shown.status, 0, shown.screen);
      assert.match(shown.screen, /importing base \/.*big\.tar\.gz \[[#.]{30}\] +\d+% [\d.]+ (B|KiB|MiB)/);
      assert.match(shown.screen, /created env "big" on base [0-9a-f]{16}/);
      const quiet = onTerminal(e2e.home, ['create', '-q', '--base', file, 'big-quiet']);
      assert.equal(quiet.status, 0, quiet.screen);
      assert.doesNotMatch(quiet.screen, /importing base|created env/);
      assert.equal((await e2e.venv(['rm', 'big', 'big-quiet'])).exitCode, 0);
      assert.equal((await e2e.venv(['bases', 'prune'])).exitCode, 0);

      // Ctrl-C while it extracts: no base, no half-made import, no env, no process left.
      const cut = spawnVenv(e2e.home, ['create', '--base', file, 'cut']);
      const extracting = () =>
        storeEntries().some(
          (entry) => entry.startsWith('.import-') && existsSync(`${e2e.home}/bases/${entry}/layer-0`),
        );
      for (let waited = 0; !extracting() && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.ok(extracting(), 'the import reached the extraction');
      cut.kill('SIGINT');
      const ended = await cut;
      assert.equal(ended.exitCode, 130, String(ended.stderr));
      assert.match(String(ended.stderr), /^venv: error: interrupted by SIGINT; nothing was changed\n/);
      assert.deepEqual(storeEntries(), []);
      assert.equal(existsSync(e2e.envDir('cut')), false);
    },
  );

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
