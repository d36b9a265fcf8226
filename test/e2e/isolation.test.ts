// Every kind of change to the system lands in the env, not on the host, and is still
// there on the next entry.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';

const e2e = e2eSetup('isolation');
const ENV = 'iso';

// What the env does, each a kind of change: append, new dir, delete, new top-level dir,
// chmod, symlink. All of these are root-owned on the host and need the overlay.
const CHANGES = `set -e
echo venv-test-line >> /etc/hosts
mkdir /usr/local/foo
rm /etc/motd
mkdir /newtopdir && echo x-content > /newtopdir/x
chmod 0700 /etc/debian_version
ln -s /etc/hostname /etc/venv-test-link
echo done`;

const CHECKS = `tail -n 1 /etc/hosts
test -d /usr/local/foo && echo foo-dir
test -e /etc/motd || echo motd-gone
cat /newtopdir/x
stat -c %a /etc/debian_version
readlink /etc/venv-test-link`;

const EXPECTED = 'venv-test-line\nfoo-dir\nmotd-gone\nx-content\n700\n/etc/hostname\n';

describe('changes to the system stay in the env', { skip: skipReason }, () => {
  const hostHosts = skipReason ? '' : readFileSync('/etc/hosts', 'utf8');
  const hostVersionMode = skipReason ? 0 : statSync('/etc/debian_version').mode & 0o7777;

  test('every kind of change is seen inside and not on the host', async (t) => {
    if (!existsSync('/etc/motd')) return t.skip('this host has no /etc/motd to delete');
    await e2e.create(ENV);
    const made = await e2e.venv(['run', ENV, '--', 'sh', '-c', `${CHANGES}\n${CHECKS}`]);
    assert.equal(made.stderr, '');
    assert.equal(made.stdout, `done\n${EXPECTED}`);
    assert.equal(made.exitCode, 0);

    assert.equal(readFileSync('/etc/hosts', 'utf8'), hostHosts);
    assert.equal(existsSync('/usr/local/foo'), false);
    assert.equal(existsSync('/etc/motd'), true);
    assert.equal(existsSync('/newtopdir'), false);
    assert.equal(statSync('/etc/debian_version').mode & 0o7777, hostVersionMode);
    assert.equal(existsSync('/etc/venv-test-link'), false);
  });

  test('the changes are in the upper dir, in overlay form', (t) => {
    if (!existsSync(`${e2e.envDir(ENV)}/upper`)) return t.skip('the env was not made');
    const upper = `${e2e.envDir(ENV)}/upper`;
    assert.ok(readFileSync(`${upper}/etc/hosts`, 'utf8').endsWith('venv-test-line\n'));
    assert.ok(lstatSync(`${upper}/usr/local/foo`).isDirectory());
    const whiteout = lstatSync(`${upper}/etc/motd`);
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'a deletion is a 0/0 character device');
    assert.equal(readFileSync(`${upper}/newtopdir/x`, 'utf8'), 'x-content\n');
    assert.equal(lstatSync(`${upper}/etc/debian_version`).mode & 0o777, 0o700);
    assert.ok(lstatSync(`${upper}/etc/venv-test-link`).isSymbolicLink());
  });

  test('the changes persist to the next entry', async (t) => {
    if (!existsSync(`${e2e.envDir(ENV)}/upper`)) return t.skip('the env was not made');
    for (const viaNode of [false, true]) {
      const again = await e2e.venv(['run', ENV, '--', 'sh', '-c', CHECKS], { viaNode });
      assert.equal(again.stdout, EXPECTED);
      assert.equal(again.exitCode, 0);
    }
  });

  test('another env does not see them', async () => {
    await e2e.create('iso-other');
    const other = await e2e.venv(['run', 'iso-other', '--', 'sh', '-c', 'tail -n 1 /etc/hosts; ls /newtopdir']);
    assert.equal(other.stdout, hostHosts.split('\n').filter(Boolean).pop() + '\n');
    assert.notEqual(other.exitCode, 0, 'ls /newtopdir fails in a fresh env');
  });
});
