// The walk of an upper dir: a stable order (a directory before its children; in each
// directory the opaque marker, then whiteouts, then the rest, by bytes), and the meaning
// of each overlay form. 0/0 devices need a user namespace: the e2e tests cover those.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { walkUpper } from '../../src/archive/upper-walk.js';

describe('walking an upper dir', () => {
  const root = mkdtempSync(join(tmpdir(), 'venv-walk-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('markers and whiteouts come first in their directory, then names by bytes', () => {
    mkdirSync(join(root, 'etc/opaque'), { recursive: true });
    for (const name of ['b', 'A', '-dash', '.wh.zzz', '.wh.aaa', 'a b']) writeFileSync(join(root, 'etc', name), '');
    writeFileSync(join(root, 'etc/opaque/.wh..wh..opq'), '');
    writeFileSync(join(root, 'etc/opaque/new'), '');
    writeFileSync(join(root, 'etc/.wh.'), ''); // not a whiteout: names nothing
    symlinkSync('/nowhere', join(root, 'link'));
    writeFileSync(Buffer.from(`${root}/caf\xe9`, 'latin1'), ''); // not UTF-8
    const walked = [...walkUpper(root)].map((e) => [e.path, e.kind, e.target ?? '']);
    assert.deepEqual(walked, [
      ['caf\xe9', 'file', ''],
      ['etc', 'dir', ''],
      ['etc/.wh.aaa', 'whiteout', 'etc/aaa'],
      ['etc/.wh.zzz', 'whiteout', 'etc/zzz'],
      ['etc/-dash', 'file', ''],
      ['etc/.wh.', 'file', ''],
      ['etc/A', 'file', ''],
      ['etc/a b', 'file', ''],
      ['etc/b', 'file', ''],
      ['etc/opaque', 'dir', ''],
      ['etc/opaque/.wh..wh..opq', 'opaque', 'etc/opaque'],
      ['etc/opaque/new', 'file', ''],
      ['link', 'symlink', ''],
    ]);
  });
});
