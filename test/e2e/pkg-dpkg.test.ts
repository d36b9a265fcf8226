// dpkg and apt inside a rootless env, offline: packages built here with dpkg-deb (a
// binary, a conffile, maintainer scripts, a dependency between two) are installed,
// upgraded and removed as the unprivileged user, and the host is left as it was.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildDeb, hasProgram, hostKnowsPackage, hostMentions, TestHome } from './pkg-helpers.js';

const HOST_FILES = [
  '/var/lib/dpkg/status',
  '/var/log/dpkg.log',
  '/var/log/apt/history.log',
  '/etc/passwd',
  '/etc/group',
  '/var/lib/apt/extended_states',
];
// Other tests may change the host's packages meanwhile (pkg-drift as root): so the host's
// files are searched for these names rather than compared whole.
const NAMES = ['venv-tool', 'venv-lib', 'venv-daemon'];
// scripts/run-tests.mjs runs this file alone: see there for the fuse-overlayfs bug that
// other tests' file activity makes likely.
const INSTALLED = [
  '/usr/bin/venv-tool',
  '/usr/share/venv-lib/greeting',
  '/etc/venv-tool.conf',
  '/var/lib/venv-tool',
  '/usr/share/venv-daemon',
];

describe('dpkg and apt in an env', { skip: !hasProgram('dpkg-deb') && 'dpkg-deb is not installed' }, () => {
  const t = new TestHome();
  const debs = { lib: '', tool1: '', tool2: '' };

  before(() => {
    assert.deepEqual(hostMentions(HOST_FILES, NAMES), [], 'the host knows nothing of the test packages to begin with');
    debs.lib = buildDeb(t.dir, {
      name: 'venv-lib',
      version: '1.0',
      files: { '/usr/share/venv-lib/greeting': 'hello from venv-lib\n' },
    });
    const tool = (version: string, conf: string) =>
      buildDeb(t.dir, {
        name: 'venv-tool',
        version,
        depends: 'venv-lib (>= 1.0)',
        files: {
          '/usr/bin/venv-tool': `#!/bin/sh\necho "venv-tool ${version}: $(cat /usr/share/venv-lib/greeting) $(cat /etc/venv-tool.conf)"\n`,
          '/etc/venv-tool.conf': conf,
        },
        scripts: {
          // A maintainer script that adds a system user, as daemons' packages do.
          postinst: `mkdir -p /var/lib/venv-tool\necho "$1 ${version}" >> /var/lib/venv-tool/postinst.log\ngetent passwd venv-tool-svc >/dev/null || useradd --system --no-create-home venv-tool-svc`,
          postrm: `if [ "$1" = purge ]; then rm -rf /var/lib/venv-tool; userdel venv-tool-svc || true; fi`,
        },
      });
    debs.tool1 = tool('1.0', 'colour=blue\n');
    debs.tool2 = tool('2.0', 'colour=green\n');
    assert.equal(t.venv('create', 'deb').status, 0);
  });

  after(() => t.finish());

  it('shows the prepared lock files inside as root-owned with their host modes', () => {
    assert.equal(
      t.sh('deb', 'stat -c "%a %u %g" /var/lib/dpkg/lock /var/cache/debconf/passwords.dat'),
      '640 0 0\n600 0 0\n',
    );
  });

  it('does not let maintainer scripts start services', () => {
    assert.equal(t.sh('deb', 'invoke-rc.d --quiet --query venv-none start; echo $?'), '101\n');
  });

  it('refuses a package whose dependency is missing, as dpkg does', () => {
    const result = t.venv('run', 'deb', '--', 'dpkg', '-i', debs.tool1);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /venv-tool depends on venv-lib \(>= 1\.0\); however:/);
  });

  it('installs with dpkg -i: the program runs, its maintainer script ran, dpkg says installed', () => {
    t.sh('deb', `dpkg -i ${debs.lib} && dpkg --configure -a`);
    assert.equal(t.sh('deb', 'venv-tool'), 'venv-tool 1.0: hello from venv-lib colour=blue\n');
    assert.match(
      t.sh('deb', 'dpkg -s venv-tool venv-lib'),
      /Status: install ok installed[\s\S]*Status: install ok installed/,
    );
    assert.equal(t.sh('deb', 'cat /var/lib/venv-tool/postinst.log'), 'configure 1.0\n');
    assert.match(t.sh('deb', 'getent passwd venv-tool-svc'), /^venv-tool-svc:x:\d+:/);
  });

  it("upgrades, keeping the user's change to a conffile", () => {
    t.sh('deb', 'echo colour=red > /etc/venv-tool.conf');
    t.sh('deb', `dpkg -i --force-confold ${debs.tool2}`);
    assert.equal(t.sh('deb', 'venv-tool'), 'venv-tool 2.0: hello from venv-lib colour=red\n');
    assert.equal(t.sh('deb', "dpkg-query -W -f '${Version} ${Status}' venv-tool"), '2.0 install ok installed');
    assert.equal(t.sh('deb', 'cat /var/lib/venv-tool/postinst.log'), 'configure 1.0\nconfigure 2.0\n');
  });

  it('removes (conffile kept) and purges (conffile and maintainer-script state gone)', () => {
    t.sh('deb', 'dpkg -r venv-tool');
    assert.equal(t.sh('deb', 'command -v venv-tool || echo gone'), 'gone\n');
    assert.equal(t.sh('deb', "dpkg-query -W -f '${Status}' venv-tool"), 'deinstall ok config-files');
    assert.equal(t.sh('deb', 'cat /etc/venv-tool.conf'), 'colour=red\n');
    t.sh('deb', 'dpkg -P venv-tool');
    assert.equal(
      t.sh('deb', 'ls /etc/venv-tool.conf /var/lib/venv-tool 2>&1 | wc -l; getent passwd venv-tool-svc || true'),
      '2\n',
    );
    assert.equal(t.sh('deb', 'dpkg-query -W -f "${Status}" venv-tool 2>/dev/null || echo unknown'), 'unknown\n');
  });

  it('installs local packages with apt-get, dependencies first, and removes them with apt-get', () => {
    const out = t.sh('deb', `apt-get install -y ${debs.lib} ${debs.tool1} 2>&1`);
    assert.match(out, /Setting up venv-tool \(1\.0\)/);
    assert.equal(t.sh('deb', 'venv-tool'), 'venv-tool 1.0: hello from venv-lib colour=blue\n');
    assert.match(t.sh('deb', 'apt-get remove -y venv-tool venv-lib 2>&1'), /Removing venv-lib \(1\.0\)/);
    assert.match(t.sh('deb', "dpkg-query -W -f '${Status}' venv-lib"), / ok not-installed$/);
    assert.match(
      t.sh('deb', 'tail -n 3 /var/log/apt/history.log'),
      /Remove: venv-tool:\w+ \(1\.0\), venv-lib:\w+ \(1\.0\)/,
    );
  });

  // adduser (in many daemons' maintainer scripts) takes a lock in /run: the env's own /run
  // must let root inside take it.
  it(
    'configures a package whose maintainer script runs adduser',
    { skip: !hasProgram('adduser') && 'no adduser' },
    () => {
      const daemon = buildDeb(t.dir, {
        name: 'venv-daemon',
        version: '1.0',
        files: { '/usr/share/venv-daemon/x': 'x\n' },
        scripts: { postinst: 'adduser --quiet --system --group --no-create-home venv-daemon-svc' },
      });
      assert.equal(t.venv('create', 'svc').status, 0);
      const out = t.sh('svc', `dpkg -i ${daemon} 2>&1; dpkg-query -W -f '\${Status}' venv-daemon`);
      assert.match(out, /install ok installed$/);
      assert.match(t.sh('svc', 'getent passwd venv-daemon-svc'), /^venv-daemon-svc:x:\d+:\d+::\/nonexistent:/);
    },
  );

  it('left the host as it was: no files, no database entry, no log line, no user', () => {
    for (const path of INSTALLED) assert.equal(existsSync(path), false, path);
    assert.equal(NAMES.some(hostKnowsPackage), false);
    assert.deepEqual(hostMentions(HOST_FILES, NAMES), []);
  });

  it('keeps the base of the package database and reports the env as having its own', () => {
    assert.ok(existsSync(t.upper('deb', '/var/lib/venv/dpkg-status.base')));
    // "host-changed" when the host's packages changed since (a busy machine).
    assert.match(t.summary('deb')?.pkgdb ?? '', /^(own|host-changed)$/);
  });
});
