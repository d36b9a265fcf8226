// Host package changes after an env copied dpkg's database: the warning on entry, in
// `venv list` and `venv doctor`, and `venv sync-pkgdb`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildDeb, hasProgram, hostKnowsPackage, isRoot, startAsUser, TestHome, VENV } from './pkg-helpers.js';

function warning(name: string): RegExp {
  return new RegExp(
    `^venv: warning: host packages changed since this env copied the dpkg database; run: venv sync-pkgdb ${name}\n$`,
  );
}

/** An installed host package whose stanza the test can take out of the env's copies. */
function installedHostPackage(): string {
  const status = readFileSync('/var/lib/dpkg/status', 'utf8');
  const names = [...status.matchAll(/^Package: (\S+)\nStatus: install ok installed$/gm)].map((m) => m[1] as string);
  return names.includes('hostname') ? 'hostname' : (names[0] as string);
}

function withoutStanza(path: string, name: string): void {
  const stanzas = readFileSync(path, 'utf8').split('\n\n');
  writeFileSync(path, stanzas.filter((s) => !s.startsWith(`Package: ${name}\n`)).join('\n\n'));
}

/** Gives the package's stanza another version, as if the env had installed one of its own. */
function otherVersion(path: string, name: string): void {
  const stanzas = readFileSync(path, 'utf8').split('\n\n');
  const changed = stanzas.map((s) =>
    s.startsWith(`Package: ${name}\n`) ? s.replace(/^Version: .*$/m, 'Version: 0.0.venv-test') : s,
  );
  writeFileSync(path, changed.join('\n\n'));
}

describe('host package drift', { skip: !hasProgram('dpkg-deb') && 'dpkg-deb is not installed' }, () => {
  const t = new TestHome();
  after(() => t.finish());

  /**
   * The host's database cannot change without root, so the env's copies are rewound
   * instead: its status and base lose a package the host has, and the base gets an old
   * time. That is exactly what the env holds when the host installed the package after
   * the env copied the database.
   */
  function rewind(name: string, pkg: string): void {
    for (const file of ['/var/lib/dpkg/status', '/var/lib/venv/dpkg-status.base'])
      withoutStanza(t.upper(name, file), pkg);
    utimesSync(t.upper(name, '/var/lib/venv/dpkg-status.base'), new Date('2000-01-01'), new Date('2000-01-01'));
  }

  /** An env with a database of its own (it installed a package of the test's) and the host's changes rewound. */
  function driftedEnv(name: string, pkg: string, rewound = true): void {
    const deb = buildDeb(t.dir, {
      name: 'venv-drift-env',
      version: '1.0',
      files: { '/usr/bin/venv-drift-env': '#!/bin/sh\necho env\n' },
    });
    assert.equal(t.venv('create', name).status, 0);
    t.sh(name, `dpkg -i ${deb} >/dev/null`);
    if (!rewound) return;
    rewind(name, pkg);
    assert.equal(t.summary(name)?.pkgdb, 'host-changed');
  }

  const statusOf = (name: string) => readFileSync(t.upper(name, '/var/lib/dpkg/status'), 'utf8');
  const query = (name: string, ...args: string[]) =>
    t.venv(
      ...args,
      'run',
      name,
      '--',
      'dpkg-query',
      '-W',
      '-f',
      '${Status}\n',
      installedHostPackage(),
      'venv-drift-env',
    );

  it('an env that has not changed the database follows the host and never warns', () => {
    assert.equal(t.venv('create', 'fresh').status, 0);
    assert.equal(t.summary('fresh')?.pkgdb, 'host');
    assert.equal(t.venv('run', 'fresh', '--', 'true').stderr, '');
  });

  it('warns, lists and syncs when the host has a package the env copy predates', async () => {
    const pkg = installedHostPackage();
    const deb = buildDeb(t.dir, {
      name: 'venv-drift-env',
      version: '1.0',
      files: { '/usr/bin/venv-drift-env': '#!/bin/sh\necho env\n' },
    });
    assert.equal(t.venv('create', 'drift').status, 0);
    // By hand only: with the default (auto) entering would merge (the next test).
    assert.equal(t.venv('config', 'drift', '--pkgdb-sync', 'manual').status, 0);
    t.sh('drift', `dpkg -i ${deb} >/dev/null`);
    assert.equal(t.summary('drift')?.pkgdb, 'own');
    rewind('drift', pkg);

    const entry = t.venv(
      'run',
      'drift',
      '--',
      'sh',
      '-c',
      `dpkg-query -W -f '\${Status}' ${pkg} 2>/dev/null || echo unknown`,
    );
    assert.match(entry.stderr, warning('drift'));
    assert.notEqual(entry.stdout, 'install ok installed', `dpkg in the env does not know ${pkg} is installed yet`);
    assert.equal(t.summary('drift')?.pkgdb, 'host-changed');
    assert.match(t.venv('list').stdout, /^drift .* no +own, host changed +[a-z-]+ +\d/m);
    assert.match(
      t.venv('doctor', 'drift').stdout,
      /warn {2}env drift \([a-z-]+\): host packages changed since this env copied the dpkg database\n +fix: venv sync-pkgdb drift/,
    );

    // Refused while the env is in use.
    const busy = startAsUser(VENV, ['run', 'drift', '--', 'sleep', '3'], { VENV_HOME: t.home });
    for (let i = 0; i < 100 && !t.summary('drift')?.inUse; i++) await sleep(50);
    const refused = t.venv('sync-pkgdb', 'drift');
    assert.equal(await busy, 0);
    assert.equal(refused.status, 125);
    assert.match(refused.stderr, /venv: error: env "drift" is in use/);

    const statusBefore = readFileSync(t.upper('drift', '/var/lib/dpkg/status'), 'utf8');
    const dry = t.venv('sync-pkgdb', '--dry-run', 'drift');
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`taken from the host: 1\\n +${pkg}:\\S*: absent -> \\S+ installed`));
    assert.match(dry.stdout, /kept from the env: 1\n +venv-drift-env:all: 1\.0 installed \(host: absent\)/);
    assert.equal(readFileSync(t.upper('drift', '/var/lib/dpkg/status'), 'utf8'), statusBefore);

    const sync = t.venv('sync-pkgdb', 'drift');
    assert.equal(sync.status, 0, sync.stderr);
    const after = t.venv('run', 'drift', '--', 'dpkg-query', '-W', '-f', '${Status}\n', pkg, 'venv-drift-env');
    assert.equal(after.stdout, 'install ok installed\ninstall ok installed\n');
    assert.equal(after.stderr, '', 'no warning once synced');
    assert.equal(t.summary('drift')?.pkgdb, 'own');
    assert.equal(readFileSync(t.upper('drift', '/var/lib/venv/dpkg-status.before-sync'), 'utf8'), statusBefore);
  });

  it("entering merges the host's changes in when nothing needs deciding, and says so in one line", () => {
    const pkg = installedHostPackage();
    driftedEnv('follow', pkg);
    const entry = query('follow');
    assert.equal(entry.status, 0, entry.stderr);
    // Merged before the command ran: dpkg inside already knows the host's package.
    assert.equal(entry.stdout, 'install ok installed\ninstall ok installed\n');
    assert.match(
      entry.stderr,
      /^venv: took the host's package changes into env "follow" \(1 package from the host, 1 package kept from the env; "venv config follow --pkgdb-sync manual" turns this off\)\n$/,
    );
    assert.equal(t.summary('follow')?.pkgdb, 'own');
    assert.match(readFileSync(t.upper('follow', '/var/lib/venv/dpkg-status.before-sync'), 'utf8'), /venv-drift-env/);
    // Done once: the next entry says nothing.
    assert.equal(t.venv('run', 'follow', '--', 'true').stderr, '');
  });

  it('a package changed on both sides is not merged on entry: the warning, as before', () => {
    const pkg = installedHostPackage();
    driftedEnv('both', pkg);
    // The base had no such package, the host has it, and the env has another version.
    const status = t.upper('both', '/var/lib/dpkg/status');
    writeFileSync(
      status,
      `${readFileSync('/var/lib/dpkg/status', 'utf8')
        .split('\n\n')
        .find((s) => s.startsWith(`Package: ${pkg}\n`))}\n\n${readFileSync(status, 'utf8')}`,
    );
    otherVersion(status, pkg);
    const before = statusOf('both');
    const entry = t.venv('run', 'both', '--', 'true');
    assert.equal(entry.status, 0);
    assert.match(entry.stderr, warning('both'));
    assert.equal(statusOf('both'), before, 'the env database is as it was');
    assert.equal(t.summary('both')?.pkgdb, 'host-changed');
    // --quiet silences the warning (through node, which tells session.sh).
    const quiet = t.venv('run', '-q', 'both', '--', 'true');
    assert.equal(quiet.status, 0);
    assert.equal(quiet.stderr, '');

    // Not tried again on every entry while the host stays as it is: with the conflict
    // gone (the env takes the host's version), entering still only warns...
    withoutStanza(status, pkg);
    assert.match(t.venv('run', 'both', '--', 'true').stderr, warning('both'));
    assert.notEqual(statusOf('both'), before);
    // ...until the host's status is newer than the one the merge declined (as after the
    // host's next dpkg run): then it merges.
    const declined = join(t.home, 'envs/both/run/pkgdb-follow.declined');
    assert.ok(existsSync(declined));
    utimesSync(declined, new Date('2000-01-01'), new Date('2000-01-01'));
    const merged = query('both');
    assert.equal(merged.stdout, 'install ok installed\ninstall ok installed\n');
    assert.match(merged.stderr, /^venv: took the host's package changes into env "both" /);
  });

  it('entering while a session is inside does not merge; the next start does', async () => {
    const pkg = installedHostPackage();
    driftedEnv('inside', pkg, false);
    const busy = startAsUser(VENV, ['run', 'inside', '--', 'sleep', '3'], { VENV_HOME: t.home });
    for (let i = 0; i < 100 && !t.summary('inside')?.inUse; i++) await sleep(50);
    assert.equal(t.summary('inside')?.inUse, true);
    // The host changes its packages while the env runs.
    rewind('inside', pkg);
    const before = statusOf('inside');
    const entry = t.venv('run', 'inside', '--', 'true');
    assert.equal(entry.status, 0);
    assert.match(entry.stderr, warning('inside'));
    assert.equal(statusOf('inside'), before, 'the env database is as it was');
    assert.equal(await busy, 0);
    const alone = query('inside');
    assert.equal(alone.stdout, 'install ok installed\ninstall ok installed\n');
    assert.match(alone.stderr, /^venv: took the host's package changes into env "inside" /);
  });

  // A real host install needs root on the host: this runs when the suite runs as root and
  // VENV_TEST_HOST_DPKG=1 allows it to install (and purge) a test package on this machine.
  const hostDpkg = isRoot && process.env.VENV_TEST_HOST_DPKG === '1';
  it(
    'a package the host installs after the env changed its database reaches the env through sync-pkgdb',
    { skip: !hostDpkg && 'needs root and VENV_TEST_HOST_DPKG=1 (installs a test package on the host)' },
    () => {
      const hostDeb = buildDeb(t.dir, {
        name: 'venv-drift-host',
        version: '1.0',
        files: { '/usr/share/venv-drift-host/x': 'x\n' },
      });
      const envDeb = buildDeb(t.dir, {
        name: 'venv-drift-own',
        version: '1.0',
        files: { '/usr/share/venv-drift-own/x': 'x\n' },
      });
      assert.equal(t.venv('create', '--pkgdb-sync', 'manual', 'real').status, 0);
      t.sh('real', `dpkg -i ${envDeb} >/dev/null`);
      try {
        assert.equal(spawnSync('dpkg', ['-i', hostDeb]).status, 0);
        const entry = t.venv('run', 'real', '--', 'dpkg-query', '-W', '-f', '${Status}', 'venv-drift-host');
        assert.match(
          entry.stderr,
          /host packages changed since this env copied the dpkg database; run: venv sync-pkgdb real/,
        );
        assert.notEqual(entry.stdout, 'install ok installed', 'the env does not see the host install yet');
        const sync = t.venv('sync-pkgdb', 'real');
        assert.match(sync.stdout, /taken from the host: 1\n +venv-drift-host:all: absent -> 1\.0 installed/);
        const synced = t.venv(
          'run',
          'real',
          '--',
          'dpkg-query',
          '-W',
          '-f',
          '${Status}\n',
          'venv-drift-host',
          'venv-drift-own',
        );
        assert.equal(synced.stdout, 'install ok installed\ninstall ok installed\n');
        assert.equal(hostKnowsPackage('venv-drift-own'), false);
      } finally {
        spawnSync('dpkg', ['-P', 'venv-drift-host']);
      }
    },
  );
});
