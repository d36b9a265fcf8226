// Real root: envs on the kernel's overlayfs, whose upper dir marks an opaque directory
// with the xattr trusted.overlay.opaque alone and a whiteout with a 0/0 device. Every kind
// of change survives commit then restore, between root envs and across to a rootless
// (fuse-overlayfs) env of the test user and back, checked from inside the envs.
// Runs as root (the runner's last phase; CI is root); skips otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup } from '../helpers/e2e.js';
import { findLeftovers } from '../helpers/leftovers.js';
import { VENV_BIN } from '../helpers/venv-cli.js';
import { MANIFEST, manifest, tarMembers } from './archive-helpers.js';

const testUser = process.env.VENV_TEST_USER || 'venvtest';

function findRootSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs real root (npm test run as root runs it last, as CI does)';
  if (!readFileOr('/proc/filesystems').includes('\toverlay\n')) {
    try {
      execFileSync('modprobe', ['overlay'], { stdio: 'ignore' });
    } catch {
      return 'the kernel has no overlayfs';
    }
  }
  try {
    execFileSync('id', ['-u', testUser], { stdio: 'ignore' });
  } catch {
    return `no test user "${testUser}" for the rootless half (VENV_TEST_USER)`;
  }
  return false;
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The kernel overlay's opaque mark of a directory in an upper dir (Node cannot read xattrs). */
function opaqueXattr(dir: string): string {
  const script = 'import os, sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())';
  return execFileSync('python3', ['-c', script, dir]).toString();
}

const skip = findRootSkip();
const e2e = e2eSetup('root', skip);

// Host paths that Debian always has (base-files, tar, bash), and one of venv's own.
const ROOTS = ['/opt/venv-root-test', '/usr/share/doc/tar', '/usr/share/doc/bash', '/etc/issue', '/etc/debian_version'];
const CHANGES = `set -e
mkdir -p /opt/venv-root-test/d
echo hi > /opt/venv-root-test/d/f
chmod 4755 /opt/venv-root-test/d/f
ln /opt/venv-root-test/d/f /opt/venv-root-test/d/hard
ln -s f /opt/venv-root-test/d/link
mkfifo /opt/venv-root-test/fifo
echo "name with space" > "/opt/venv-root-test/a b"
echo changed >> /etc/debian_version
rm /etc/issue
rm -rf /usr/share/doc/tar && mkdir /usr/share/doc/tar && echo new > /usr/share/doc/tar/new
rm -rf /usr/share/doc/bash && echo now-a-file > /usr/share/doc/bash`;

/** The host as the checks see it: these must not change, whatever the envs do. */
function hostState(): string {
  return execFileSync('sh', [
    '-c',
    'ls -la /usr/share/doc/tar /usr/share/doc/bash; cat /etc/debian_version /etc/issue; ls /opt',
  ]).toString();
}

/** venv as the rootless test user, with its own VENV_HOME. */
function asUser(home: string, args: string[]): string {
  return execFileSync('runuser', ['-u', testUser, '--', 'env', `VENV_HOME=${home}`, VENV_BIN, ...args], {
    encoding: 'utf8',
    cwd: '/tmp',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('real root: the kernel overlay backend', { skip }, () => {
  let out = '';
  let userHome = '';
  let host = '';
  before(async () => {
    host = hostState();
    // Both the test user's: it writes its commit into out too.
    const uid = Number(execFileSync('id', ['-u', testUser]).toString());
    out = mkdtempSync('/tmp/venv-test-root-out-');
    chownSync(out, uid, 0);
    chmodSync(out, 0o755);
    userHome = mkdtempSync('/tmp/venv-test-root-user-');
    chownSync(userHome, uid, 0);
    await e2e.create('k');
    const changed = await e2e.venv(['run', 'k', '--', 'sh', '-c', CHANGES]);
    assert.equal(changed.exitCode, 0, changed.stderr);
  });
  after(() => {
    try {
      execFileSync('runuser', ['-u', testUser, '--', 'unshare', '-Ur', '--map-auto', 'rm', '-rf', userHome]);
    } catch {
      // removed below as root
    }
    rmSync(userHome, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  test('the env is a kernel overlay whose changes stay in its upper dir', () => {
    const env = JSON.parse(readFileOr(`${e2e.envDir('k')}/env.json`)) as { mapping: string };
    assert.equal(env.mapping, 'host');
    const upper = `${e2e.envDir('k')}/upper`;
    assert.equal(
      opaqueXattr(`${upper}/usr/share/doc/tar`),
      'y\n',
      'the kernel marks the opaque dir with an xattr alone',
    );
    assert.equal(existsSync(`${upper}/usr/share/doc/tar/.wh..wh..opq`), false);
    assert.equal(hostState(), host, 'the host is untouched');
  });

  test('diff names every kind of change, the xattr-only opaque dir included', async () => {
    const result = await e2e.venv(['diff', 'k', '--json']);
    assert.equal(result.exitCode, 0, result.stderr);
    const kinds = new Map((JSON.parse(result.stdout) as { path: string; kind: string }[]).map((c) => [c.path, c.kind]));
    assert.equal(kinds.get('/etc/issue'), 'deleted');
    assert.equal(kinds.get('/etc/debian_version'), 'modified');
    assert.equal(kinds.get('/usr/share/doc/tar'), 'replaced');
    assert.equal(kinds.get('/usr/share/doc/bash'), 'replaced');
    assert.equal(kinds.get('/opt/venv-root-test/d/f'), 'added');
  });

  test('commit writes OCI markers, restore as root gives the same tree', async () => {
    const archive = `${out}/k.tar.zst`;
    const committed = await e2e.venv(['commit', 'k', '-o', archive]);
    assert.equal(committed.exitCode, 0, committed.stderr);
    const names = tarMembers(archive).map((m) => m.name);
    assert.ok(names.includes('usr/share/doc/tar/.wh..wh..opq'), 'the opaque marker');
    assert.ok(names.includes('etc/.wh.issue'), 'the whiteout');
    assert.ok(!tarMembers(archive).some((m) => Object.keys(m.pax).some((k) => k.includes('trusted.'))));
    const restored = await e2e.venv(['restore', archive, 'k2']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.deepEqual(await manifest(e2e, 'k2', ROOTS), await manifest(e2e, 'k', ROOTS));
    assert.equal(hostState(), host);
  });

  test('a root-made archive restores rootless, and a rootless one as root', async () => {
    const archive = `${out}/k.tar.zst`;
    if (!existsSync(archive)) assert.equal((await e2e.venv(['commit', 'k', '-o', archive])).exitCode, 0);
    asUser(userHome, ['restore', archive, 'u']);
    const inUserEnv = JSON.parse(asUser(userHome, ['run', 'u', '--', 'python3', '-c', MANIFEST, ...ROOTS])) as unknown;
    assert.deepEqual(inUserEnv, await manifest(e2e, 'k', ROOTS), 'root env -> rootless env');

    // And back: the rootless env's commit (a .wh..wh..opq file) becomes the xattr again.
    asUser(userHome, ['commit', 'u', '-o', `${out}/u.tar.zst`]);
    const restored = await e2e.venv(['restore', `${out}/u.tar.zst`, 'k3']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.deepEqual(await manifest(e2e, 'k3', ROOTS), await manifest(e2e, 'k', ROOTS), 'rootless env -> root env');
    assert.equal(opaqueXattr(`${e2e.envDir('k3')}/upper/usr/share/doc/tar`), 'y\n');
    assert.deepEqual(findLeftovers(userHome), []);
    assert.deepEqual(readdirSync(`${userHome}/envs`), ['u']);
    assert.equal(hostState(), host);
  });
});
