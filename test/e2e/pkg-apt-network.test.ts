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

  // Daemons as a user would run them by hand: an sshd on a high port that accepts a key
  // login of a user made in the env (its /run/sshd is the env's), and nginx on a high port.
  // sshd checks that ~/.ssh is the user's, which fuse-overlayfs envs cannot show.
  it(
    'runs sshd (key login of a user made inside) and nginx on high ports',
    { skip: process.env.VENV_BACKEND === 'fuse-overlayfs' && "fuse-overlayfs shows ~/.ssh as root's" },
    () => {
      assert.equal(t.venv('create', 'daemons').status, 0);
      const install = t.sh(
        'daemons',
        'apt-get update -q 2>&1 && apt-get install -y -q openssh-server nginx-light wget 2>&1',
      );
      assert.doesNotMatch(install, /Permission denied|^E: /m);
      const [ssh, web] = [22000 + (process.pid % 1000), 28000 + (process.pid % 1000)];
      const script = `set -e
useradd -m -s /bin/sh venvssh
key=/root/venv-test-key; ssh-keygen -q -t ed25519 -N '' -f $key
install -d -o venvssh -g venvssh -m 0700 /home/venvssh/.ssh
install -o venvssh -g venvssh -m 0600 $key.pub /home/venvssh/.ssh/authorized_keys
mkdir -p /run/sshd
/usr/sbin/sshd -p ${ssh} -o ListenAddress=127.0.0.1
ssh -i $key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p ${ssh} venvssh@127.0.0.1 'id -un; pwd'
sed -i 's/listen 80 default_server;/listen 127.0.0.1:${web} default_server;/; /listen \\[::\\]:80/d' /etc/nginx/sites-enabled/default
nginx
sleep 0.5
wget -qO- http://127.0.0.1:${web}/ | grep -o '<title>.*</title>'`;
      assert.equal(t.sh('daemons', script), 'venvssh\n/home/venvssh\n<title>Welcome to nginx!</title>\n');
    },
  );

  // The whole system, as the host's release has it: every upgrade the mirror offers,
  // maintainer scripts and all, and dpkg's audit clean after.
  // Not on fuse-overlayfs: systemd's upgrade adds a file to a directory the user cannot
  // list (/usr/share/polkit-1/rules.d), which only venv-rootview shows as an empty one that
  // can be added to, and dpkg meets fuse-overlayfs 1.10's inode-reuse bug (docs/packages.md).
  it(
    'apt-get upgrade -y completes and leaves dpkg --audit clean',
    {
      timeout: 3_600_000,
      skip:
        process.env.VENV_BACKEND === 'fuse-overlayfs' &&
        'fuse-overlayfs envs cannot upgrade systemd (docs/packages.md)',
    },
    () => {
      assert.equal(t.venv('create', 'up').status, 0);
      const script =
        'apt-get update -q >/dev/null 2>&1 && apt-get upgrade -y -q 2>&1; echo "status $?"; dpkg --audit; echo "audit $?"';
      const result = asUser(VENV, ['run', 'up', '--', 'sh', '-c', script], { VENV_HOME: t.home }, 3_600_000);
      assert.match(result.stdout, /status 0\naudit 0\n$/, result.stdout.slice(-3000) + result.stderr);
      assert.doesNotMatch(result.stdout, /^E: |dpkg: error processing/m);
    },
  );
});
