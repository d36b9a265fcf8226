// A service-like package in a rootless env, offline: a .deb built here whose postinst does
// what daemons' packages do (adduser --system, a /run directory and a data directory owned
// by that user), and a daemon started by hand that runs as its user and writes there. The
// env shows the ownership, the host has none of it, and the daemon ends with the env's
// last session; the env's /run starts empty again next time (a reboot), its data stays.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processesRunning } from '../helpers/leftovers.js';
import { buildDeb, hasProgram, postgresScript, startAsUser, TestHome, VENV } from './pkg-helpers.js';

// fuse-overlayfs shows every file as root's (squash_to_root): the data dir under /var/lib
// shows as root's there and the service user cannot write it (README, Limits). /run is a
// tmpfs and shows ownership on both backends.
const ownershipShown = process.env.VENV_BACKEND !== 'fuse-overlayfs';
const DAEMON = '/usr/bin/venv-svcd';

const skip = (!hasProgram('dpkg-deb') && 'dpkg-deb is not installed') || (!hasProgram('adduser') && 'no adduser');

describe('a service in an env', { skip }, () => {
  const t = new TestHome();
  const stop = join(t.dir, 'stop');
  const ready = join(t.dir, 'ready');
  let deb = '';
  let holder: Promise<number | null> | undefined;

  before(() => {
    deb = buildDeb(t.dir, {
      name: 'venv-svcd',
      version: '1.0',
      files: {
        // Writes its pid to /run, then a beat to its data dir (when it may) and to /run,
        // each in one step (the env may end it at any moment).
        [DAEMON]: `#!/bin/sh
echo $$ > /run/venv-svcd/pid
beat() { date +%s%N > "$1.new" && mv -f "$1.new" "$1"; }
while :; do
  beat /run/venv-svcd/beat
  [ ! -w /var/lib/venv-svcd ] || beat /var/lib/venv-svcd/beat
  sleep 0.1
done
`,
      },
      scripts: {
        postinst: [
          'adduser --quiet --system --group --no-create-home --home /var/lib/venv-svcd venv-svcd',
          'install -d -o venv-svcd -g venv-svcd -m 0750 /var/lib/venv-svcd',
          'install -d -o venv-svcd -g venv-svcd -m 0755 /run/venv-svcd',
        ].join('\n'),
      },
    });
    assert.equal(t.venv('create', 'svc').status, 0);
  });

  after(() => {
    writeFileSync(stop, '');
    t.finish();
  });

  it('installs; the daemon started by hand runs as its user and writes where the package said', async () => {
    // One session holds the env open, as a shell would; the others come and go.
    holder = startAsUser(
      VENV,
      ['run', 'svc', '--', 'sh', '-c', `: > ${ready}; while [ ! -e ${stop} ]; do sleep 0.1; done`],
      { VENV_HOME: t.home },
    );
    for (let i = 0; i < 200 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(ready), 'the holding session started');
    t.sh('svc', `dpkg -i ${deb} >/dev/null`);
    t.sh('svc', `runuser -u venv-svcd -- setsid ${DAEMON} </dev/null >/dev/null 2>&1 &`);
    const seen = t.sh(
      'svc',
      `for i in $(seq 50); do [ -s /run/venv-svcd/beat ] && break; sleep 0.1; done
stat -c '%U:%G %a' /run/venv-svcd /var/lib/venv-svcd /run/venv-svcd/beat
ps -o user:20= -p "$(cat /run/venv-svcd/pid)"
stat -c %U /var/lib/venv-svcd/beat 2>/dev/null || echo no-data`,
    );
    const root = ownershipShown ? 'venv-svcd:venv-svcd' : 'root:root';
    assert.equal(
      seen,
      `venv-svcd:venv-svcd 755\n${root} 750\nvenv-svcd:venv-svcd 644\nvenv-svcd\n${ownershipShown ? 'venv-svcd' : 'no-data'}\n`,
    );
  });

  it('left nothing on the host: no user, no /run dir, no data dir; the data is in the upper dir', () => {
    assert.doesNotMatch(readFileSync('/etc/passwd', 'utf8'), /^venv-svcd:/m);
    assert.equal(existsSync('/run/venv-svcd'), false);
    assert.equal(existsSync('/var/lib/venv-svcd'), false);
    if (!ownershipShown) return;
    // Stored owned by the service user's mapped id: a subordinate id, not the caller's.
    const data = statSync(t.upper('svc', '/var/lib/venv-svcd'));
    assert.notEqual(data.uid, process.getuid?.());
    assert.ok(data.uid >= 65536, `owned by a subordinate id: ${data.uid}`);
  });

  it('ends the daemon when the last session leaves; the next start has a fresh /run and the data', async () => {
    assert.equal(processesRunning(`/bin/sh ${DAEMON}`).length, 1, 'the daemon runs while a session is in');
    writeFileSync(stop, '');
    assert.equal(await holder, 0);
    assert.deepEqual(processesRunning(`/bin/sh ${DAEMON}`), [], 'the daemon ended with the env');
    assert.deepEqual(t.leftovers(), []);
    const again = t.sh('svc', 'test -e /run/venv-svcd && echo run-kept || echo run-fresh; id -un venv-svcd');
    assert.equal(again, 'run-fresh\nvenv-svcd\n');
    if (ownershipShown) assert.equal(t.sh('svc', 'test -s /var/lib/venv-svcd/beat && echo data-kept'), 'data-kept\n');
  });
});

// PostgreSQL as Debian packages it, from the host's own packages (no network): a cluster
// made in the env, started by hand, answering, stopped. pkg-apt-network.test.ts installs
// it from the network where the host does not have it.
const noPostgres = !hasProgram('pg_createcluster') && 'PostgreSQL is not installed on this host';
describe(
  'PostgreSQL in an env',
  { skip: noPostgres || (!ownershipShown && "fuse-overlayfs shows the data directory as root's") },
  () => {
    const t = new TestHome();
    after(() => t.finish());

    it('pg_createcluster, pg_ctlcluster start, psql select 1 as postgres, stop; the host has no such cluster', () => {
      assert.equal(t.venv('create', 'pg').status, 0);
      assert.equal(t.sh('pg', postgresScript()), '1\nstopped\n');
      assert.equal(existsSync('/var/lib/postgresql/15/venvtest'), false);
      assert.equal(existsSync('/etc/postgresql/15/venvtest'), false);
      assert.deepEqual(t.leftovers(), []);
    });
  },
);
