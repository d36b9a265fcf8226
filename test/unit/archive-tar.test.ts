// The tar reader and writer: what venv writes, it reads back the same; what it cannot
// trust (bad checksums, truncation, sparse files, global paths), it refuses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { BLOCK, parsePax, Type } from '../../src/archive/tar-header.js';
import { endOfArchive, entryHeader, padding } from '../../src/archive/tar-write.js';
import { archive, entry, read } from '../helpers/tar-fixtures.js';

describe('tar headers', () => {
  test('an entry written is read back the same, across any chunking', async () => {
    const long = `${'d/'.repeat(80)}file`;
    const weird = 'a b\nc\u00e9'; // a newline and a non-ASCII byte pair
    const bytes = archive(
      [entry('etc/hosts', { mode: 0o4755, uid: 5, gid: 7, mtime: '1700000000.123456789' }), 'hello'],
      [entry(long), 'x'.repeat(1000)],
      [entry(Buffer.from(weird).toString('latin1'))],
      [entry('bin/sh', { type: Type.symlink, linkpath: `/${'t'.repeat(150)}` })],
      [entry('dir', { type: Type.dir, mode: 0o1777, xattrs: new Map([['user.a', Buffer.from([0, 1, 255])]]) })],
      [entry('big-ids', { uid: 3_000_000, gid: 4_000_000 })],
    );
    for (const chunk of [1, 7, 512, 100_000]) {
      const got = await read(bytes, chunk);
      assert.deepEqual(
        got.map((g) => [g.entry.path, g.entry.mode, g.entry.uid, g.entry.gid, g.entry.mtime, g.entry.linkpath]),
        [
          ['etc/hosts', 0o4755, 5, 7, '1700000000.123456789', ''],
          [long, 0o644, 0, 0, '1700000000', ''],
          [Buffer.from(weird).toString('latin1'), 0o644, 0, 0, '1700000000', ''],
          ['bin/sh', 0o644, 0, 0, '1700000000', `/${'t'.repeat(150)}`],
          ['dir', 0o1777, 0, 0, '1700000000', ''],
          ['big-ids', 0o644, 3_000_000, 4_000_000, '1700000000', ''],
        ],
      );
      assert.equal(got[0]?.data, 'hello');
      assert.equal(got[1]?.data, 'x'.repeat(1000));
      assert.deepEqual(got[4]?.entry.xattrs.get('user.a'), Buffer.from([0, 1, 255]));
    }
  });

  test('GNU tar reads what venv writes (an independent reader)', () => {
    const bytes = archive(
      [entry('a/b c', { mtime: '1700000000.5' }), 'data'],
      [entry('a/link', { type: Type.symlink, mode: 0o777, linkpath: 'b c' })],
    );
    const listing = execFileSync('tar', ['--list', '--verbose', '--numeric-owner', '--file=-'], {
      input: bytes,
    }).toString();
    assert.match(listing, /^-rw-r--r-- 0\/0 +4 .* a\/b c$/m);
    assert.match(listing, /^lrwxrwxrwx 0\/0 .* a\/link -> b c$/m);
  });

  test('pax records keep binary values and refuse a malformed length', () => {
    const { records, canonical } = parsePax(Buffer.from('12 path=a/b\n20 SCHILY.xattr.x=\u0001\n'));
    assert.equal(records.get('path')?.toString(), 'a/b');
    assert.equal(canonical, true);
    assert.throws(() => parsePax(Buffer.from('99 path=a\n')), /corrupt pax/);
    // Lengths that Number() reads but GNU tar's strtoumax does not.
    for (const length of ['0xc', '1.2e1', ' 12', '+12']) {
      assert.throws(() => parsePax(Buffer.from(`${length} path=a/b\n`)), /corrupt pax/, length);
    }
    assert.equal(parsePax(Buffer.from('013 path=a/b\n')).canonical, false, 'a leading zero');
    assert.equal(parsePax(Buffer.from('10 path=a\n10 path=b\n')).canonical, false, 'a key twice');
    assert.equal(parsePax(Buffer.from('10 path=a\n\0\0')).canonical, false, 'NUL padding');
  });

  test('a corrupt checksum is refused', async () => {
    const bytes = archive([entry('f'), 'x']);
    bytes[0] = 'g'.charCodeAt(0);
    await assert.rejects(read(bytes), /checksum/);
  });

  test('a truncated archive is refused: in the data, and before the end blocks', async () => {
    const bytes = archive([entry('f'), 'x'.repeat(2000)]);
    await assert.rejects(read(bytes.subarray(0, BLOCK + 700)), /truncated/);
    await assert.rejects(read(bytes.subarray(0, bytes.length - 2 * BLOCK)), /truncated/);
  });

  test('data after a directory entry, sparse files and global paths are refused', async () => {
    const dir = entryHeader(entry('d', { type: Type.dir, size: 0 }));
    dir.write('00000001000', 124, 'latin1'); // size 512
    let sum = 0;
    dir.fill(0x20, 148, 156);
    for (const byte of dir) sum += byte;
    dir.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await assert.rejects(read(Buffer.concat([dir, Buffer.alloc(BLOCK), endOfArchive()])), /carries data/);
    const sparse = paxArchive('x', 'GNU.sparse.major=1');
    await assert.rejects(read(sparse), /sparse/);
    await assert.rejects(read(paxArchive('g', 'path=/etc/passwd')), /global pax header/);
  });
});

/** An archive with one pax header of the given type ('x' or 'g') before a file entry. */
function paxArchive(type: string, record: string): Buffer {
  const body = ` ${record}\n`;
  let length = body.length + 2;
  if (String(length).length + body.length !== length) length += 1;
  const pax = Buffer.from(`${length}${body}`);
  const header = entryHeader(entry('PaxHeader', { type, size: pax.length }));
  return Buffer.concat([header, pax, padding(pax.length), entryHeader(entry('f')), endOfArchive()]);
}
