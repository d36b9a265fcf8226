// Optional: apt-get update and install of a real package from the host's apt sources.
// Runs with VENV_TEST_NETWORK=1 when deb.debian.org can be reached: mirrors have bad
// moments ("Release is no longer signed") that must not fail the suite, which needs no
// network.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { asUser, hasProgram, hostKnowsPackage, postgresScript, TestHome, VENV } from './pkg-helpers.js';

/** Whether deb.debian.org answers on port 80 within 3 s. */
async function debianReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: 'deb.debian.org', port: 80, timeout: 3000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('connect', () => done(true));
    socket.on('timeout', () => done(false));
    socket.on('error', () => done(false));
  });
}

const skip =
  (process.env.VENV_TEST_NETWORK !== '1' && 'set VENV_TEST_NETWORK=1 to run it') ||
  (!hasProgram('apt-get') && 'apt-get is not installed') ||
  (!(await debianReachable()) && 'deb.debian.org cannot be reached');

describe('apt-get from the network', { skip }, () => {
  const t = new TestHome();
  after(() => t.finish());

  it('updates, installs cowsay with its dependency, runs it and removes it; the host has none of it', () => {
    assert.equal(t.venv('create', 'net').status, 0);
    const install = t.sh('net', 'apt-get update -q 2>&1 && apt-get install -y -q cowsay 2>&1');
    assert.match(install, /Setting up cowsay/);
    assert.doesNotMatch(install, /Permission denied|^E: /m);
    assert.match(t.sh('net', '/usr/games/cowsay moo'), /< moo >/);
    t.sh('net', 'apt-get remove -y -q cowsay 2>&1');
    assert.equal(t.sh('net', 'test -e /usr/games/cowsay && echo present || echo gone'), 'gone\n');
    if (!hostKnowsPackage('cowsay')) assert.equal(existsSync('/usr/games/cowsay'), false);
  });

  // PostgreSQL as a user would try it: install (a no-op where the host has it), make a
  // cluster, start it by hand, select 1. Its data directory must show as postgres's,
  // which fuse-overlayfs envs cannot (README, Limits).
  it(
    'installs postgresql and answers select 1',
    { skip: process.env.VENV_BACKEND === 'fuse-overlayfs' && "fuse-overlayfs shows the data directory as root's" },
    () => {
      assert.equal(t.venv('create', 'pg').status, 0);
      const install = t.sh('pg', 'apt-get update -q 2>&1 && apt-get install -y -q postgresql 2>&1');
      assert.doesNotMatch(install, /Permission denied|^E: /m);
      assert.equal(t.sh('pg', postgresScript()), '1\nstopped\n');
    },
  );

  // The whole system, as the host's release has it: every upgrade the mirror offers,
  // maintainer scripts and all, and dpkg's audit clean after.
  it('apt-get upgrade -y completes and leaves dpkg --audit clean', { timeout: 3_600_000 }, () => {
    assert.equal(t.venv('create', 'up').status, 0);
    const script =
      'apt-get update -q >/dev/null 2>&1 && apt-get upgrade -y -q 2>&1; echo "status $?"; dpkg --audit; echo "audit $?"';
    const result = asUser(VENV, ['run', 'up', '--', 'sh', '-c', script], { VENV_HOME: t.home }, 3_600_000);
    assert.match(result.stdout, /status 0\naudit 0\n$/, result.stdout.slice(-3000) + result.stderr);
    assert.doesNotMatch(result.stdout, /^E: |dpkg: error processing/m);
  });
});
