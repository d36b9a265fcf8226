// --volume HOST_PATH:ENV_PATH[:ro] binds host directories into an env; --share chooses
// which of the host's home, tmp and run it sees (none: private ones, nothing of the
// user's). What is on the host and in the env is checked on both sides.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { makeSharedDir } from '../helpers/venv-home.js';

const e2e = e2eSetup('volumes');

describe('volumes', { skip: skipReason }, () => {
  const made: string[] = [];
  const hostDir = (label: string) => {
    const dir = mkdtempSync(`/tmp/venv-test-vol-${label}-`);
    made.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  test('a read-write volume: the env reads and writes the host directory, at a path it did not have', async () => {
    const dir = hostDir('rw');
    writeFileSync(`${dir}/from-host`, 'host\n');
    const created = await e2e.venv(['create', '--volume', `${dir}:/opt/venv-test/data`, 'rw']);
    assert.equal(created.exitCode, 0, created.stderr);
    const result = await e2e.venv([
      'run',
      'rw',
      '--',
      'sh',
      '-c',
      'cat /opt/venv-test/data/from-host && echo env > /opt/venv-test/data/from-env',
    ]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, 'host\n');
    assert.equal(readFileSync(`${dir}/from-env`, 'utf8'), 'env\n');
    assert.equal(existsSync('/opt/venv-test'), false, "the mount point is the env's, not the host's");
    assert.equal(existsSync(`${e2e.envDir('rw')}/upper/opt/venv-test/data/from-env`), false, 'not in the upper dir');
  });

  test('a read-only volume cannot be written from the env, and the host keeps it as it was', async () => {
    const dir = hostDir('ro');
    writeFileSync(`${dir}/file`, 'kept\n');
    const created = await e2e.venv(['create', '--volume', `${dir}:/data:ro`, 'ro']);
    assert.equal(created.exitCode, 0, created.stderr);
    const result = await e2e.venv([
      'run',
      'ro',
      '--',
      'sh',
      '-c',
      'cat /data/file; echo x > /data/file || echo refused; touch /data/new || echo refused',
    ]);
    assert.equal(result.stdout, 'kept\nrefused\nrefused\n', result.stderr);
    assert.match(result.stderr, /Read-only file system/);
    assert.deepEqual(readdirSync(dir), ['file']);
    assert.equal(readFileSync(`${dir}/file`, 'utf8'), 'kept\n');
  });

  test('a symlink the env put on the way to a mount point is refused, and nothing is mounted through it', async () => {
    const dir = hostDir('src');
    const decoy = hostDir('decoy');
    writeFileSync(`${dir}/secret`, 'secret\n');
    await e2e.create('planted');
    // The env makes /mnt-venv a symlink to a directory of the host's (here, directly in its upper dir).
    symlinkSync(decoy, `${e2e.envDir('planted')}/upper/mnt-venv`);
    const configured = await e2e.venv(['config', 'planted', '--volume', `${dir}:/mnt-venv/x`]);
    assert.equal(configured.exitCode, 0, configured.stderr);
    const result = await e2e.venv(['run', 'planted', '--', 'true']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /refusing volume \/mnt-venv\/x: \/mnt-venv is a symlink in the env/);
    assert.deepEqual(readdirSync(decoy), [], 'nothing was made in the directory the symlink names');
    // Without the symlink, the env starts and the volume is there.
    rmSync(`${e2e.envDir('planted')}/upper/mnt-venv`);
    const fixed = await e2e.venv(['run', 'planted', '--', 'cat', '/mnt-venv/x/secret']);
    assert.equal(fixed.stdout, 'secret\n', fixed.stderr);
  });

  test('a volume whose host directory is gone makes the start fail with one line', async () => {
    const dir = hostDir('gone');
    const created = await e2e.venv(['create', '--volume', `${dir}:/gone`, 'gone']);
    assert.equal(created.exitCode, 0, created.stderr);
    rmSync(dir, { recursive: true });
    const result = await e2e.venv(['run', 'gone', '--', 'true']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /volume .*:\/gone: .* is not a directory on the host/);
  });
});

describe('--share', { skip: skipReason }, () => {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  test("--share none: nothing of the user's in /home, /tmp or /run; its own /home stays, its /tmp is new at each start", async () => {
    const inTmp = makeSharedDir('/tmp', 'share-none');
    made.push(inTmp);
    writeFileSync(`${inTmp}/mine`, 'x');
    const inHome = homedir().startsWith('/home/') ? makeSharedDir(homedir(), 'share-none') : undefined;
    if (inHome) made.push(inHome);
    const created = await e2e.venv(['create', '--share', 'none', 'private']);
    assert.equal(created.exitCode, 0, created.stderr);
    const look = [
      `test -e ${inTmp} && echo tmp-visible`,
      inHome ? `test -e ${inHome} && echo home-visible` : ':',
      `test -e ${e2e.home} && echo venv-home-visible`,
      'ls -A /tmp /var/tmp /dev/shm',
      'test -e /run/user || echo no-run-user; test -e /run/dbus/system_bus_socket && echo dbus-visible',
      'echo kept > /home/kept; echo gone > /tmp/gone',
    ].join('; ');
    const first = await e2e.venv(['run', 'private', '--', 'sh', '-c', look]);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(first.stdout, '/dev/shm:\n\n/tmp:\n\n/var/tmp:\nno-run-user\n');
    assert.equal(existsSync('/home/kept'), false);
    assert.equal(readFileSync(`${e2e.envDir('private')}/home/kept`, 'utf8'), 'kept\n');
    assert.equal(existsSync('/tmp/gone'), false);
    const second = await e2e.venv(['run', 'private', '--', 'sh', '-c', 'cat /home/kept; ls -A /tmp']);
    assert.equal(second.stdout, 'kept\n', second.stderr);
    // The caller's home directory is there (empty), so that a shell can start in it.
    if (homedir().startsWith('/home/')) {
      const home = await e2e.venv(['run', 'private', '--', 'sh', '-c', 'cd && pwd && ls -A'], {
        env: { HOME: homedir() },
      });
      assert.equal(home.stdout, `${homedir()}\n`, home.stderr);
    }
  });

  test("--share home: the host's /home, a private /tmp; config --share all brings /tmp back", async () => {
    const inTmp = makeSharedDir('/tmp', 'share-home');
    made.push(inTmp);
    const created = await e2e.venv(['create', '--share', 'home', 'some']);
    assert.equal(created.exitCode, 0, created.stderr);
    const probe = ['sh', '-c', `test -e ${inTmp} && echo tmp-visible || echo tmp-private`];
    assert.equal((await e2e.venv(['run', 'some', '--', ...probe])).stdout, 'tmp-private\n');
    if (homedir().startsWith('/home/')) {
      const seen = await e2e.venv(['run', 'some', '--', 'sh', '-c', `test -d ${homedir()} && ls -d /home/*`]);
      assert.match(seen.stdout, new RegExp(`^${homedir()}$`, 'm'), seen.stderr);
    }
    const changed = await e2e.venv(['config', 'some', '--share', 'all']);
    assert.equal(changed.exitCode, 0, changed.stderr);
    assert.equal((await e2e.venv(['run', 'some', '--', ...probe])).stdout, 'tmp-visible\n');
  });
});
