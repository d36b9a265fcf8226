// The restore filter (oci-to-upper.ts): hostile entries are refused before any byte of
// them goes on; OCI markers become what the overlay reads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkSymlink, memberPath } from '../../src/archive/path-safety.js';
import { Type } from '../../src/archive/tar-header.js';
import { parseTar } from '../../src/archive/tar-parse.js';
import { ociToUpper, type OciToUpperOptions } from '../../src/archive/oci-to-upper.js';
import { detectCompression } from '../../src/archive/compression.js';
import { nameFromFile } from '../../src/commands/restore.js';
import { archive, entry, read } from '../helpers/tar-fixtures.js';

async function filter(
  bytes: Buffer,
  options: OciToUpperOptions = { opaqueXattr: undefined, maxId: 65535 },
): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const buffer of ociToUpper(parseTar([bytes]), options)) out.push(buffer);
  return Buffer.concat(out);
}

const refused = (bytes: Buffer, pattern: RegExp) => assert.rejects(filter(bytes), pattern);

describe('member paths', () => {
  test('relative paths are kept, "./" prefixes and trailing slashes dropped', () => {
    assert.equal(memberPath('./etc/hosts'), 'etc/hosts');
    assert.equal(memberPath('usr/bin/'), 'usr/bin');
    assert.equal(memberPath('./'), '');
  });

  test('absolute paths, "..", empty or "." components, NUL, depth and length are refused', () => {
    assert.throws(() => memberPath('/etc/passwd'), /absolute/);
    assert.throws(() => memberPath('a/../../b'), /"\.\."/);
    assert.throws(() => memberPath('..'), /"\.\."/);
    assert.throws(() => memberPath('a//b'), /empty or "\."/);
    assert.throws(() => memberPath('a/./b'), /empty or "\."/);
    assert.throws(() => memberPath('a\0b'), /NUL/);
    assert.throws(() => memberPath('d/'.repeat(200) + 'f'), /deeper/);
    assert.throws(() => memberPath('x'.repeat(300)), /name longer/);
    assert.throws(() => memberPath(`${'x/'.repeat(2100)}f`), /path longer|deeper/);
  });

  test('edge cases: dots that are names, runs of "./", a lone "."', () => {
    assert.equal(memberPath('.'), '');
    assert.equal(memberPath('.//./a'), 'a');
    assert.equal(memberPath('.hidden/..x/...'), '.hidden/..x/...');
    assert.throws(() => memberPath('a/.'), /empty or "\."/);
    assert.throws(() => memberPath('a/..'), /"\.\."/);
    assert.throws(() => memberPath('a/..//'), /"\.\."/);
    assert.throws(() => memberPath('/'), /absolute/);
  });

  // memberPath is written as one pass over the characters for speed; this is the plain
  // version it replaced. Both must accept the same paths and refuse the same ones.
  test('agrees with the plain split-and-check version on many generated paths', () => {
    const plain = (raw: string): string => {
      if (raw.includes('\0')) return 'NUL';
      if (raw.startsWith('/')) return 'absolute';
      let path = raw;
      while (path.startsWith('./')) path = path.slice(2).replace(/^\/+/, '');
      path = path.replace(/\/+$/, '');
      if (path === '.' || path === '') return '';
      if (path.length > 4095) return 'path longer';
      const parts = path.split('/');
      if (parts.length > 128) return 'deeper';
      for (const part of parts) {
        if (part === '..') return '".."';
        if (part === '' || part === '.') return 'empty or "."';
        if (part.length > 255) return 'name longer';
      }
      return `=${path}`;
    };
    const fast = (raw: string): string => {
      try {
        const path = memberPath(raw);
        return path === '' ? '' : `=${path}`;
      } catch (error) {
        const message = (error as Error).message;
        return ['NUL', 'absolute', 'path longer', 'deeper', '".."', 'empty or "."', 'name longer'].find((why) =>
          message.includes(why),
        ) as string;
      }
    };
    const pieces = ['a', 'b', '.', '..', '/', '//', './', '.wh.', 'x'.repeat(256), '\0'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      let raw = '';
      for (let n = next() % 8; n >= 0; n--) raw += pieces[next() % pieces.length];
      const [expected, got] = [plain(raw), fast(raw)];
      // With several faults in one path the two may name different ones; both refuse.
      if (expected.startsWith('=') || expected === '' || got.startsWith('=') || got === '')
        assert.equal(got, expected, JSON.stringify(raw));
    }
    for (const deep of ['d/'.repeat(128) + 'f', 'd/'.repeat(127) + 'f', `${'x/'.repeat(2047)}f`, 'y'.repeat(4096)])
      assert.equal(fast(deep), plain(deep), `${deep.length} characters`);
  });

  test('symlinks: absolute targets are fine, relative ones may not climb out', () => {
    checkSymlink('etc/alternatives/editor', '/usr/bin/vim.basic');
    checkSymlink('usr/lib/x/libfoo.so', '../../lib/libfoo.so.1');
    assert.throws(() => checkSymlink('usr/lib/x', '../../../etc/passwd'), /leaves the archive/);
    assert.throws(() => checkSymlink('a', ''), /empty target/);
  });
});

describe('the restore filter', () => {
  test('whiteouts become 0/0 devices; the opaque marker stays for fuse-overlayfs', async () => {
    const out = await read(
      await filter(
        archive(
          [entry('./etc', { type: Type.dir })],
          [entry('./etc/.wh.issue')],
          [entry('./usr/share/doc/tar/.wh..wh..opq')],
          [entry('./usr/share/doc/tar/new'), 'n'],
          [entry('./.wh..wh.plnk/junk')],
        ),
      ),
    );
    assert.deepEqual(
      out.map((o) => [o.entry.path, o.entry.type, o.entry.devmajor, o.entry.devminor]),
      [
        ['etc', Type.dir, 0, 0],
        ['etc/issue', Type.chardev, 0, 0],
        ['usr/share/doc/tar/.wh..wh..opq', Type.file, 0, 0],
        ['usr/share/doc/tar/new', Type.file, 0, 0],
      ],
    );
  });

  test("for the kernel's overlayfs an opaque dir gets trusted.overlay.opaque instead", async () => {
    const out = await read(
      await filter(archive([entry('d', { type: Type.dir, mode: 0o700 })], [entry('d/.wh..wh..opq')]), {
        opaqueXattr: 'trusted.overlay.opaque',
        maxId: 2 ** 31,
      }),
    );
    assert.equal(out.length, 2);
    assert.equal(out[1]?.entry.path, 'd');
    assert.equal(out[1]?.entry.mode, 0o700);
    assert.equal(out[1]?.entry.xattrs.get('trusted.overlay.opaque')?.toString(), 'y');
  });

  test("only user.* (not the overlay's) and security.capability xattrs pass; big ids become 0", async () => {
    const xattrs = new Map(
      [
        'user.keep',
        'user.fuseoverlayfs.origin',
        'trusted.overlay.opaque',
        'security.capability',
        'security.selinux',
      ].map((name) => [name, Buffer.from('v')] as [string, Buffer]),
    );
    const [got] = await read(await filter(archive([entry('f', { xattrs, uid: 70000, gid: 12 })])));
    assert.deepEqual([...(got?.entry.xattrs.keys() ?? [])], ['security.capability', 'user.keep']);
    assert.equal(got?.entry.uid, 0);
    assert.equal(got?.entry.gid, 12);
  });

  test('an entry below a symlink of the archive is refused', async () => {
    await refused(
      archive([entry('lib', { type: Type.symlink, linkpath: '/tmp' })], [entry('lib/evil'), 'x']),
      /lib\/evil.*through the symlink "lib"/,
    );
    await refused(
      archive([entry('a/lib', { type: Type.symlink, linkpath: '/tmp' })], [entry('a/lib/x/y/evil'), 'x']),
      /through the symlink "a\/lib"/,
    );
  });

  test('a symlink replaced by a directory or file later is refused', async () => {
    await refused(
      archive([entry('s', { type: Type.symlink, linkpath: '/etc' })], [entry('s', { type: Type.dir })]),
      /replaces a symlink/,
    );
  });

  test('hardlinks: outside the tree, through a symlink, or to themselves are refused', async () => {
    await refused(archive([entry('h', { type: Type.hardlink, linkpath: '../../etc/shadow' })]), /hardlink.*outside/);
    await refused(archive([entry('h', { type: Type.hardlink, linkpath: '/etc/shadow' })]), /hardlink.*outside/);
    await refused(
      archive(
        [entry('s', { type: Type.symlink, linkpath: '/etc' })],
        [entry('h', { type: Type.hardlink, linkpath: 's/shadow' })],
      ),
      /hardlink through the symlink/,
    );
    await refused(archive([entry('h', { type: Type.hardlink, linkpath: 'h' })]), /hardlink/);
  });

  test('device nodes, unknown types, a whiteout of nothing and an opaque root are refused', async () => {
    await refused(archive([entry('dev/sda', { type: Type.blockdev, devmajor: 8 })]), /device node/);
    await refused(archive([entry('dev/null', { type: Type.chardev, devmajor: 1, devminor: 3 })]), /device node/);
    await refused(archive([entry('dev/x', { type: Type.chardev })]), /device node/);
    await refused(archive([entry('v', { type: 'V' })]), /unsupported type/);
    await refused(archive([entry('etc/.wh..')]), /whiteout of nothing/);
    await refused(archive([entry('.wh..wh..opq')]), /opaque/);
  });
});

describe('archive names and formats', () => {
  test('compression is told from the bytes', () => {
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
    assert.equal(detectCompression(archive([entry('f')])), 'none');
    assert.equal(detectCompression(Buffer.alloc(1024)), 'none'); // an empty archive
    assert.throws(() => detectCompression(Buffer.from('BZh91AY')), /bzip2/);
    assert.throws(() => detectCompression(Buffer.from('hello')), /not a tar/);
  });

  test('the env name comes from the file name', () => {
    assert.equal(nameFromFile('/x/work.tar.zst'), 'work');
    assert.equal(nameFromFile('work.tar.gz'), 'work');
    assert.equal(nameFromFile('py3.12.tar'), 'py3.12');
    assert.equal(nameFromFile('a.tgz'), 'a');
  });
});
