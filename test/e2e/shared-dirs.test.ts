// /tmp, the caller's home and /run/user/UID are the host's inside an env: writes go both ways at
// once, and none of them lands in the env's upper dir. The rest of /run is the env's own.
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { makeSharedDir } from '../helpers/venv-home.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';
import { RUNTIME_LAYOUT } from '../../src/store/env-store.js';

const e2e = e2eSetup('shared');

// Inside: write a.txt, wait for the host to write b.txt, print it. Both while running.
const EXCHANGE = `echo from-env > "$1/a.txt"
echo waiting
i=0; while [ ! -s "$1/b.txt" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
cat "$1/b.txt"`;

function isWritableDir(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function exchange(dir: string): Promise<void> {
  const session = spawnVenv(e2e.home, ['run', 'shared', '--', 'sh', '-c', EXCHANGE, 'sh', dir]);
  await waitForOutput(session, 'waiting');
  // The env is still running: its write must already be on the host.
  assert.equal(readFileSync(`${dir}/a.txt`, 'utf8'), 'from-env\n');
  writeFileSync(`${dir}/b.txt`, 'from-host\n');
  const result = await session;
  assert.equal(result.stdout, 'waiting\nfrom-host\n');
  assert.equal(result.exitCode, 0);
  const upperCopy = `${e2e.envDir('shared')}/upper${dir}`;
  assert.equal(existsSync(upperCopy), false, `${upperCopy} must not exist: shared dirs bypass the overlay`);
}

describe('shared host directories', { skip: skipReason }, () => {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  test('/tmp: writes are visible on both sides at once', async () => {
    await e2e.create('shared');
    const dir = makeSharedDir('/tmp', 'shared');
    made.push(dir);
    await exchange(dir);
  });

  test('/home: writes are visible on both sides at once', async (t) => {
    if (!homedir().startsWith('/home/')) return t.skip(`the test user's home ${homedir()} is not under /home`);
    if (!existsSync(e2e.envDir('shared'))) await e2e.create('shared');
    const dir = makeSharedDir(homedir(), 'shared');
    made.push(dir);
    await exchange(dir);
  });

  // /run is the env's own tmpfs; the caller's /run/user/UID is shared into it (private-run.sh).
  test("/run: the caller's own /run/user/UID is shared live", async (t) => {
    const own = `/run/user/${process.getuid?.() ?? -1}`;
    if (!isWritableDir(own)) return t.skip(`${own} does not exist here (no login session; npm test as root makes it)`);
    if (!existsSync(e2e.envDir('shared'))) await e2e.create('shared');
    const dir = makeSharedDir(own, 'shared');
    made.push(dir);
    await exchange(dir);
  });

  test("/run: the host's other directories there are not the env's", async (t) => {
    if (!existsSync('/run/lock')) return t.skip('the host has no /run/lock');
    if (!existsSync(e2e.envDir('shared'))) await e2e.create('shared');
    const name = `/run/lock/venv-test-${process.pid}`;
    const inside = await e2e.venv([
      'run',
      'shared',
      '--',
      'sh',
      '-c',
      `stat -c %a /run/lock && : > ${name} && echo made`,
    ]);
    assert.equal(inside.stdout, '1777\nmade\n', inside.stderr);
    assert.equal(existsSync(name), false, 'the host has no such entry');
  });

  test("/run: names made at its top are the env's own and end with it; root's lock files are writable", async () => {
    if (!existsSync(e2e.envDir('shared'))) await e2e.create('shared');
    const name = `/run/venv-test-${process.pid}`;
    const script = `echo mine > ${name} && cat ${name} && : >> /run/adduser && echo locked`;
    const inside = await e2e.venv(['run', 'shared', '--', 'sh', '-c', script]);
    assert.equal(inside.stdout, 'mine\nlocked\n', inside.stderr);
    assert.equal(existsSync(name), false, 'the host has no such entry');
    const again = await e2e.venv(['run', 'shared', '--', 'sh', '-c', `test -e ${name} && echo kept || echo gone`]);
    assert.equal(again.stdout, 'gone\n', 'a new start of the env has a fresh /run');
    if (existsSync('/var/lib/dpkg/status')) {
      // The host's dpkg database as dpkg's guard sees it (pkgdb-files.ts), read-only.
      const view = await e2e.venv([
        'run',
        'shared',
        '--',
        'sh',
        '-c',
        '[ /run/.venv-host-dpkg/status -ef /run/.venv-host-dpkg-status ] && echo same; touch /run/.venv-host-dpkg/x 2>/dev/null || echo read-only',
      ]);
      assert.equal(view.stdout, 'same\nread-only\n', view.stderr);
    }
  });

  test('an env whose runtime files an older venv wrote (/run bound whole) gets them anew', async () => {
    await e2e.create('old');
    const run = `${e2e.envDir('old')}/run`;
    const merged = `${e2e.envDir('old')}/merged`;
    writeFileSync(`${run}/mapping`, `${readFileSync(`${run}/mapping`, 'utf8').split(' ')[0]}\n`);
    writeFileSync(
      `${run}/binds.fstab`,
      ['/proc', '/sys', '/dev', '/home', '/tmp', '/run'].map((d) => `${d} ${merged}${d} none rbind 0 0\n`).join(''),
    );
    const result = await e2e.venv(['run', 'old', '--', 'sh', '-c', ': >> /run/adduser && echo locked']);
    assert.equal(result.stdout, 'locked\n', result.stderr);
    assert.match(
      readFileSync(`${run}/mapping`, 'utf8'),
      new RegExp(`^\\w+ ${RUNTIME_LAYOUT} (overlay|fuse-overlayfs)\n$`),
    );
  });

  test('a file deleted inside a shared dir is gone on the host', async () => {
    if (!existsSync(e2e.envDir('shared'))) await e2e.create('shared');
    const dir = makeSharedDir('/tmp', 'shared-rm');
    made.push(dir);
    writeFileSync(`${dir}/victim`, 'x');
    const result = await e2e.venv(['run', 'shared', '--', 'rm', `${dir}/victim`]);
    assert.equal(result.exitCode, 0);
    assert.equal(existsSync(`${dir}/victim`), false);
  });
});
