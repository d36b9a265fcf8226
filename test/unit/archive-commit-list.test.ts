// What a commit asks tar to archive, from the walk of an upper dir: OCI forms from the
// shadow, in OCI order; venv's own preparations left out until something below them is in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { listForCommit } from '../../src/archive/commit-list.js';
import type { UpperEntry } from '../../src/archive/upper-walk.js';

async function list(walk: UpperEntry[], prepared: string[] = [], xattrOpaque: string[] = []): Promise<string[]> {
  const names: string[] = [];
  await listForCommit(
    walk,
    {
      xattrOpaque: new Set(xattrOpaque),
      prepared: (path) => prepared.includes(path),
      whiteout: (path) => Buffer.from(`SHADOW:${path}`),
      marker: (dir) => Buffer.from(`MARKER:${dir}`),
    },
    (name) => {
      names.push(name.toString());
    },
  );
  return names;
}

describe('the list of names a commit archives', () => {
  test('devices become shadow whiteouts, markers follow their directory, sockets are left out', async () => {
    const names = await list([
      { path: 'etc', kind: 'dir' },
      { path: 'etc/issue', kind: 'whiteout', target: 'etc/issue' },
      { path: 'etc/.wh.motd', kind: 'whiteout', target: 'etc/motd' },
      { path: 'etc/hosts', kind: 'file' },
      { path: 'etc/sock', kind: 'socket' },
      { path: 'opt', kind: 'dir' },
      { path: 'opt/.wh..wh..opq', kind: 'opaque', target: 'opt' },
      { path: 'opt/new', kind: 'file' },
    ]);
    assert.deepEqual(names, ['etc', 'SHADOW:etc/issue', 'etc/.wh.motd', 'etc/hosts', 'opt', 'MARKER:opt', 'opt/new']);
  });

  test("an xattr-only opaque directory (the kernel's overlayfs) gets one marker", async () => {
    const walk: UpperEntry[] = [
      { path: 'd', kind: 'dir' },
      { path: 'd/.wh..wh..opq', kind: 'opaque', target: 'd' },
      { path: 'd/f', kind: 'file' },
    ];
    assert.deepEqual(await list(walk, [], ['d']), ['d', 'MARKER:d', 'd/f']);
  });

  test('what venv prepared is left out, unless something below a prepared directory is in', async () => {
    const walk: UpperEntry[] = [
      { path: 'etc', kind: 'dir' },
      { path: 'etc/shadow', kind: 'file' },
      { path: 'var', kind: 'dir' },
      { path: 'var/lib', kind: 'dir' },
      { path: 'var/lib/dpkg', kind: 'dir' },
      { path: 'var/lib/dpkg/lock', kind: 'file' },
      { path: 'var/lib/dpkg/updates', kind: 'dir' },
      { path: 'var/lib/dpkg/updates/.wh..wh..opq', kind: 'opaque', target: 'var/lib/dpkg/updates' },
      { path: 'var/lib/dpkg/updates/0001', kind: 'file' },
      { path: 'var/log', kind: 'dir' },
      { path: 'var/log/btmp', kind: 'file' },
      { path: 'zz', kind: 'file' },
    ];
    const prepared = [
      'etc',
      'etc/shadow',
      'var',
      'var/lib',
      'var/lib/dpkg',
      'var/lib/dpkg/lock',
      'var/lib/dpkg/updates',
      'var/lib/dpkg/updates/.wh..wh..opq',
      'var/log',
      'var/log/btmp',
    ];
    assert.deepEqual(await list(walk, prepared), [
      'var',
      'var/lib',
      'var/lib/dpkg',
      'var/lib/dpkg/updates',
      'MARKER:var/lib/dpkg/updates',
      'var/lib/dpkg/updates/0001',
      'zz',
    ]);
  });
});
