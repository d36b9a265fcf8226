import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatStatus, parseStatus } from '../../src/pkg/dpkg-status.js';
import { mergePkgDb } from '../../src/pkg/pkgdb-merge.js';

function stanza(name: string, version: string, state = 'installed', arch = 'amd64'): string {
  const want = state === 'not-installed' || state === 'config-files' ? 'deinstall' : 'install';
  return `Package: ${name}\nStatus: ${want} ok ${state}\nArchitecture: ${arch}\nVersion: ${version}\nDescription: ${name}\n test package\n`;
}

function db(...stanzas: string[]) {
  return parseStatus(stanzas.join('\n'));
}

function merged(base: string[] | undefined, host: string[], env: string[]) {
  const result = mergePkgDb(base && db(...base), db(...host), db(...env));
  return { ...result, text: formatStatus(result.stanzas) };
}

describe('dpkg status format', () => {
  it('keeps continuation lines and the Architecture in the key', () => {
    const parsed = db(stanza('a', '1'), stanza('a', '1', 'installed', 'i386'));
    assert.deepEqual([...parsed.keys()], ['a:amd64', 'a:i386']);
    assert.match(parsed.get('a:i386')?.text ?? '', /\n test package$/);
  });

  it('writes stanzas sorted by name, then architecture, each followed by a blank line', () => {
    const text = formatStatus(db(stanza('b', '1'), stanza('a', '1', 'installed', 'i386'), stanza('a', '1')).values());
    assert.deepEqual(
      [...text.matchAll(/^Package: (.*)\n.*\nArchitecture: (.*)$/gm)].map((m) => `${m[1]}:${m[2]}`),
      ['a:amd64', 'a:i386', 'b:amd64'],
    );
    assert.ok(text.endsWith('test package\n\n'));
  });

  it('reads and writes the real dpkg status byte for byte', { skip: !existsSync('/var/lib/dpkg/status') }, () => {
    const text = readFileSync('/var/lib/dpkg/status', 'utf8');
    assert.equal(formatStatus(parseStatus(text).values()), text);
  });

  it('refuses a stanza without a Package field', () => {
    assert.throws(() => parseStatus('Status: install ok installed\n'), /without a Package field/);
  });
});

describe('three-way merge of the package database', () => {
  const libc = stanza('libc6', '2.36-9');

  it('takes what only the host changed: installs, upgrades and removals', () => {
    const result = merged(
      [libc, stanza('curl', '7.88'), stanza('old', '1')],
      [libc, stanza('curl', '7.99'), stanza('newtool', '1')],
      [libc, stanza('curl', '7.88'), stanza('old', '1')],
    );
    assert.equal(result.text, formatStatus(db(libc, stanza('curl', '7.99'), stanza('newtool', '1')).values()));
    assert.deepEqual(result.fromHost.map((c) => c.key).sort(), ['curl:amd64', 'newtool:amd64', 'old:amd64']);
    assert.deepEqual(result.conflicts, []);
  });

  it("keeps what only the env changed, the host's changes around it taken too", () => {
    const result = merged(
      [libc, stanza('vim', '9.0')],
      [libc, stanza('vim', '9.0'), stanza('hostpkg', '2')],
      [libc, stanza('cowsay', '3.03'), stanza('vim', '9.0', 'config-files')],
    );
    assert.equal(
      result.text,
      formatStatus(
        db(libc, stanza('cowsay', '3.03'), stanza('hostpkg', '2'), stanza('vim', '9.0', 'config-files')).values(),
      ),
    );
    assert.deepEqual(result.keptFromEnv.map((c) => c.key).sort(), ['cowsay:amd64', 'vim:amd64']);
    assert.deepEqual(
      result.fromHost.map((c) => c.key),
      ['hostpkg:amd64'],
    );
  });

  it('drops a package the env removed that the host left alone', () => {
    const result = merged([libc, stanza('nano', '7')], [libc, stanza('nano', '7')], [libc]);
    assert.equal(result.text, formatStatus(db(libc).values()));
    assert.deepEqual(result.keptFromEnv[0], {
      key: 'nano:amd64',
      base: '7 installed',
      host: '7 installed',
      env: 'absent',
    });
  });

  it('is quiet about a change both sides made alike', () => {
    const result = merged([libc], [libc, stanza('jq', '1.6')], [libc, stanza('jq', '1.6')]);
    assert.equal(result.text, formatStatus(db(libc, stanza('jq', '1.6')).values()));
    assert.deepEqual([result.fromHost, result.keptFromEnv, result.conflicts], [[], [], []]);
  });

  it('resolves a conflict for the env, whose files are in its upper dir, and reports it', () => {
    const result = merged(
      [libc, stanza('python3', '3.11.2'), stanza('git', '2.39')],
      [libc, stanza('python3', '3.11.4'), stanza('git', '2.40')],
      [libc, stanza('python3', '3.11.3'), stanza('git', '2.39', 'not-installed')],
    );
    assert.equal(
      result.text,
      formatStatus(db(libc, stanza('git', '2.39', 'not-installed'), stanza('python3', '3.11.3')).values()),
    );
    assert.deepEqual(result.conflicts.map((c) => c.key).sort(), ['git:amd64', 'python3:amd64']);
    const python = result.conflicts.find((c) => c.key === 'python3:amd64');
    assert.deepEqual(python, {
      key: 'python3:amd64',
      base: '3.11.2 installed',
      host: '3.11.4 installed',
      env: '3.11.3 installed',
    });
  });

  it('tells architectures apart (multi-arch)', () => {
    const result = merged([libc], [libc, stanza('libc6', '2.36-9', 'installed', 'i386')], [libc]);
    assert.deepEqual([...parseStatus(result.text).keys()], ['libc6:amd64', 'libc6:i386']);
  });

  it("without a base, takes what only the host has and keeps every other difference as the env's", () => {
    const result = merged(
      undefined,
      [libc, stanza('hostpkg', '1'), stanza('curl', '7.99')],
      [libc, stanza('envpkg', '1'), stanza('curl', '7.88')],
    );
    assert.equal(result.hadBase, false);
    assert.equal(
      result.text,
      formatStatus(db(libc, stanza('curl', '7.88'), stanza('envpkg', '1'), stanza('hostpkg', '1')).values()),
    );
    assert.deepEqual(
      result.fromHost.map((c) => c.key),
      ['hostpkg:amd64'],
    );
    assert.deepEqual(result.keptFromEnv.map((c) => c.key).sort(), ['curl:amd64', 'envpkg:amd64']);
    assert.equal(result.keptFromEnv[0]?.base, 'unknown');
  });
});
