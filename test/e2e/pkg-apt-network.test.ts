// Optional: apt-get update and install of a real package from the host's apt sources.
// Runs with VENV_TEST_NETWORK=1 when deb.debian.org can be reached: mirrors have bad
// moments ("Release is no longer signed") that must not fail the suite, which needs no
// network.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { hasProgram, hostKnowsPackage, TestHome } from './pkg-helpers.js';

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
});
