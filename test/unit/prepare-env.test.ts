import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { measureTree } from '../../src/commands/list.js';
import { envPaths } from '../../src/store/paths.js';
import { planPackagePrep } from '../../src/pkg/prepare-env.js';
import { readPrepared, recordPrepared } from '../../src/pkg/prepared-manifest.js';
import { DPKG_HOOK_FILE } from '../../src/pkg/pkgdb-files.js';
import { canRead, type HostEntry, type HostView, type UpperItem } from '../../src/pkg/upper-items.js';
import { writeItems } from '../../src/pkg/upper-writer.js';

const USER = 1000;

/** A host as the user sees it: path -> entry (uid 0 is root), plus file contents. */
function fakeHost(entries: Record<string, Partial<HostEntry> & { content?: string }>): HostView {
  const full = (path: string): HostEntry | undefined => {
    const e = entries[path];
    if (!e) return undefined;
    return {
      type: 'file',
      size: e.content?.length ?? 0,
      mode: 0o644,
      uid: 0,
      gid: 0,
      atimeMs: 1e12,
      mtimeMs: 1e12,
      ...e,
    };
  };
  return {
    list: (dir) =>
      Object.keys(entries)
        .filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'))
        .map((p) => p.slice(dir.length + 1)),
    stat: full,
    readable: (path, entry = full(path)) => entry !== undefined && canRead(entry, USER, [USER]),
    read: (path) => (full(path) && canRead(full(path) as HostEntry, USER, [USER]) ? entries[path]?.content : undefined),
  };
}

const debianHost = fakeHost({
  '/etc': { type: 'dir', mode: 0o755 },
  '/etc/passwd': { content: 'root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n' },
  '/etc/group': { content: 'root:x:0:\nadm:x:4:alice,bob\n' },
  '/etc/shadow': { mode: 0o640, gid: 42, content: 'root:$y$secret:19000:0:99999:7:::\n' },
  '/etc/.pwd.lock': { mode: 0o600 },
  '/etc/hostname': { content: 'box\n' },
  '/etc/apt': { type: 'dir', mode: 0o755 },
  '/etc/apt/apt.conf.d': { type: 'dir', mode: 0o755 },
  '/etc/dpkg': { type: 'dir', mode: 0o755 },
  '/etc/dpkg/dpkg.cfg.d': { type: 'dir', mode: 0o755 },
  '/var/lib/dpkg': { type: 'dir', mode: 0o755 },
  '/var/lib/dpkg/lock': { mode: 0o640 },
  '/var/lib/dpkg/status': { content: 'Package: a\n' },
  '/var/lib/dpkg/updates': { type: 'dir', mode: 0o755 },
  '/var/lib/apt/lists': { type: 'dir', mode: 0o755 },
  '/var/lib/apt/lists/partial': { type: 'dir', mode: 0o700, uid: 42 },
  '/var/cache/apt/archives': { type: 'dir', mode: 0o755 },
  '/var/cache/apt/archives/secret_1.0_all.deb': { mode: 0o600, content: 'x' },
  '/var/log': { type: 'dir', mode: 0o755 },
  '/var/log/apt': { type: 'dir', mode: 0o755 },
  '/var/log/apt/term.log': { mode: 0o640, gid: 4, content: 'Log started\n' },
  '/var/log/secret.key': { mode: 0o600, content: 'k' },
  '/var/lib/man-db/auto-update': {},
  '/usr/sbin/invoke-rc.d': { mode: 0o755 },
});

function byPath(items: UpperItem[]): Record<string, UpperItem> {
  return Object.fromEntries(items.map((item) => [item.path, item]));
}

describe('what an env gets for package managers', () => {
  const items = byPath(planPackagePrep('auto', debianHost));

  it('gets an empty copy, same mode, of every empty file in the state dirs the user cannot read', () => {
    assert.deepEqual(
      [items['/var/lib/dpkg/lock'], items['/etc/.pwd.lock']].map((i) => i?.kind === 'file' && [i.content, i.mode]),
      [
        ['', 0o640],
        ['', 0o600],
      ],
    );
  });

  it('gets an empty directory for one it cannot list, and an empty log for an unreadable one', () => {
    assert.deepEqual(items['/var/lib/apt/lists/partial'], {
      kind: 'dir',
      path: '/var/lib/apt/lists/partial',
      mode: 0o700,
      like: '/var/lib/apt/lists/partial',
      why: 'unreadable directory',
    });
    assert.equal(items['/var/log/apt/term.log']?.kind === 'file' && items['/var/log/apt/term.log'].content, '');
  });

  it('leaves readable files, unreadable files that are neither empty nor logs, and packages alone', () => {
    for (const path of ['/var/lib/dpkg/status', '/etc/hostname', '/var/cache/apt/archives/secret_1.0_all.deb']) {
      assert.equal(items[path], undefined, path);
    }
  });

  it('gets its own /etc/shadow with every account locked, not the host hashes', () => {
    const shadow = items['/etc/shadow'];
    assert.equal(shadow?.kind === 'file' && shadow.content, 'root:*:::::::\n_apt:*:::::::\n');
    assert.equal(items['/etc/gshadow'], undefined, 'the fake host has no gshadow');
  });

  it("sets apt's sandbox user, silences man-db's trigger, keeps its own dpkg journal, installs the base hook", () => {
    assert.match(
      items['/etc/apt/apt.conf.d/00venv-sandbox']?.kind === 'file'
        ? items['/etc/apt/apt.conf.d/00venv-sandbox'].content
        : '',
      /^APT::Sandbox::User "root";$/m,
    );
    assert.equal(items['/var/lib/man-db/auto-update']?.kind, 'whiteout');
    assert.deepEqual(items['/var/lib/dpkg/updates'], {
      kind: 'dir',
      path: '/var/lib/dpkg/updates',
      mode: 0o755,
      like: '/var/lib/dpkg/updates',
      opaque: true,
      why: "the env's own dpkg journal",
    });
    assert.ok(items[DPKG_HOOK_FILE]);
  });

  it('denies service starts from maintainer scripts, unless the host has its own policy', () => {
    const policy = items['/usr/sbin/policy-rc.d'];
    assert.equal(
      policy?.kind === 'file' && [policy.mode, policy.content.trimEnd().split('\n').pop()].join(' '),
      '493 exit 101',
    );
    const dockerish = fakeHost({ '/usr/sbin/invoke-rc.d': { mode: 0o755 }, '/usr/sbin/policy-rc.d': { mode: 0o755 } });
    assert.deepEqual(planPackagePrep('auto', dockerish), []);
  });

  it('as real root, only the service policy and the dpkg base hook', () => {
    assert.deepEqual(
      planPackagePrep('host', debianHost).map((i) => i.path),
      ['/usr/sbin/policy-rc.d', '/var/lib/venv', DPKG_HOOK_FILE],
    );
  });

  it('on a host without dpkg or apt, nothing', () => {
    assert.deepEqual(planPackagePrep('auto', fakeHost({ '/etc': { type: 'dir', mode: 0o755 } })), []);
  });
});

/** An upper dir in a fresh env dir of its own (the env dir is what venv trusts, see store/env-files.ts). */
function makeUpper(): string {
  const upper = join(mkdtempSync(join(tmpdir(), 'venv-env-')), 'upper');
  mkdirSync(upper);
  return upper;
}

describe('writing into the upper dir', () => {
  const dir = makeUpper();
  after(() => rmSync(dirname(dir), { recursive: true, force: true }));
  const host = fakeHost({
    '/var': { type: 'dir', mode: 0o755 },
    '/var/lib': { type: 'dir', mode: 0o751, mtimeMs: 5e11 },
  });
  const items: UpperItem[] = [
    { kind: 'file', path: '/var/lib/dpkg/lock', content: '', mode: 0o640, why: 't' },
    { kind: 'dir', path: '/var/lib/apt/partial', mode: 0o700, opaque: true, why: 't' },
    { kind: 'whiteout', path: '/var/lib/man-db/auto-update', why: 't' },
    { kind: 'file', path: '/etc/shadow', content: 'root:*:::::::\n', mode: 0o640, why: 't' },
  ];

  it('creates parents like the host directories, items with their modes, whiteouts as .wh. files', () => {
    const result = writeItems(dir, items, host);
    assert.equal(result.written, 4);
    assert.ok(result.created.includes('/var/lib/apt/partial/.wh..wh..opq'));
    assert.ok(result.created.includes('/var/lib/man-db/.wh.auto-update'));
    assert.ok(result.created.includes('/var'), 'parents too');
    const mode = (p: string) => lstatSync(join(dir, p)).mode & 0o7777;
    assert.deepEqual(
      ['/var/lib', '/var/lib/dpkg', '/var/lib/dpkg/lock', '/var/lib/apt/partial'].map(mode),
      [0o751, 0o755, 0o640, 0o700],
    );
    assert.equal(lstatSync(join(dir, '/var/lib')).mtimeMs, 5e11);
    assert.equal(readFileSync(join(dir, '/var/lib/man-db/.wh.auto-update'), 'utf8'), '');
    assert.equal(readFileSync(join(dir, '/var/lib/apt/partial/.wh..wh..opq'), 'utf8'), '');
  });

  it("is idempotent and leaves the env's own files and deletions alone", () => {
    writeFileSync(join(dir, '/etc/shadow'), 'root:*:::::::\nenvuser:!:::::::\n');
    rmSync(join(dir, '/var/lib/dpkg/lock'));
    writeFileSync(join(dir, '/var/lib/dpkg/.wh.lock'), '');
    assert.deepEqual(writeItems(dir, items, host), { written: 0, created: [] });
    assert.equal(readFileSync(join(dir, '/etc/shadow'), 'utf8'), 'root:*:::::::\nenvuser:!:::::::\n');
    assert.throws(() => lstatSync(join(dir, '/var/lib/dpkg/lock')));
  });
});

describe('writing under a directory the env deleted', () => {
  it('skips every item below it', () => {
    const dir = makeUpper();
    try {
      writeFileSync(join(dir, '.wh.opt'), '');
      const items: UpperItem[] = [
        { kind: 'file', path: '/opt/a/lock', content: '', mode: 0o600, why: 't' },
        { kind: 'file', path: '/opt/a/b/lock', content: '', mode: 0o600, why: 't' },
        { kind: 'file', path: '/srv/lock', content: '', mode: 0o600, why: 't' },
      ];
      assert.deepEqual(writeItems(dir, items, fakeHost({})), { written: 1, created: ['/srv', '/srv/lock'] });
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('what venv list counts as changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'venv-prepared-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = envPaths('x', dir);

  it('nothing in a freshly prepared upper dir, what the env changed after', async () => {
    mkdirSync(paths.upper, { recursive: true });
    mkdirSync(paths.run);
    const { created } = writeItems(paths.upper, planPackagePrep('auto', debianHost), debianHost);
    recordPrepared(paths, created);
    assert.deepEqual(await measureTree(paths.upper, readPrepared(paths)), { bytes: 0, entries: 0 });
    writeFileSync(join(paths.upper, '/var/log/apt/term.log'), 'Log started\n');
    writeFileSync(join(paths.upper, '/var/lib/dpkg/status'), 'Package: x\n');
    assert.deepEqual(await measureTree(paths.upper, readPrepared(paths)), { bytes: 23, entries: 2 });
  });
});
