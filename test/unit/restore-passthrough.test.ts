// The restore filter passes an entry's own header blocks on when they state exactly the
// values it checked, and writes the header anew otherwise (oci-to-upper.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OciToUpper } from '../../src/archive/oci-to-upper.js';
import { BLOCK, Type } from '../../src/archive/tar-header.js';
import { TarParser, type TarItem } from '../../src/archive/tar-parse.js';
import { entryHeader } from '../../src/archive/tar-write.js';
import { archive, entry } from '../helpers/tar-fixtures.js';

/** Each entry's header bytes as the filter emits them, and whether it came as one push. */
function filtered(bytes: Buffer, maxId = 65536): { path: string; header: Buffer; passed: boolean }[] {
  const parser = new TarParser();
  const filter = new OciToUpper({ opaqueXattr: undefined, maxId });
  const out: { path: string; header: Buffer; passed: boolean }[] = [];
  parser.push(bytes, (item: TarItem) => {
    if (item.kind !== 'entry') return;
    const pieces: Buffer[] = [];
    filter.item(item, (piece) => pieces.push(piece));
    const header = Buffer.concat(pieces);
    out.push({ path: item.entry.path, header, passed: item.block !== undefined && header.equals(item.block) });
  });
  return out;
}

describe('restore filter: header pass-through', () => {
  test('plain entries, and a pax header of mtime or path only, pass as read', () => {
    const long = `${'d/'.repeat(80)}file`;
    const bytes = archive(
      [entry('a/file', { mode: 0o4755, uid: 5 }), 'x'],
      [entry('a/dir', { type: Type.dir })],
      [entry('a/link', { type: Type.symlink, linkpath: 'file' })],
      [entry('a/nano', { mtime: '1700000000.123456789' }), 'y'],
      [entry(long)],
    );
    const got = filtered(bytes);
    assert.deepEqual(
      got.map((g) => [g.path, g.passed]),
      [
        ['a/file', true],
        ['a/dir', true],
        ['a/link', true],
        ['a/nano', true],
        [long, true],
      ],
    );
    // What passes is what venv's own writer makes of the same values.
    assert.deepEqual(got[0]?.header, entryHeader(entry('a/file', { mode: 0o4755, uid: 5, size: 1 })));
  });

  test('an id the env cannot own, an xattr, a name made clean, a GNU header: written anew', () => {
    const bytes = archive(
      [entry('big', { uid: 70000 })],
      [entry('attr', { xattrs: new Map([['user.a', Buffer.from('1')]]) })],
      [entry('./dot/file')],
    );
    const got = filtered(bytes);
    assert.deepEqual(
      got.map((g) => [g.path, g.passed]),
      [
        ['big', false],
        ['attr', false],
        ['./dot/file', false],
      ],
    );
    assert.equal(got[0]?.header.toString('latin1', 108, 115), '0000000', 'the uid is written as 0');

    // The same plain entry with GNU's magic ("ustar  \0"): its fields mean other things to
    // GNU tar, so it is never passed on.
    const gnu = Buffer.from(archive([entry('g')]));
    gnu.write('ustar  \0', 257, 'latin1');
    gnu.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += gnu[i] as number;
    gnu.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    assert.deepEqual(
      filtered(gnu).map((g) => [g.path, g.passed]),
      [['g', false]],
    );
  });
});
