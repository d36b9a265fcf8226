// Every tarball is hostile until proven otherwise. Each test builds one kind of attack
// with Python's tarfile and asserts: exit 125, an error naming the entry, no env and no
// staging dir left, and nothing created or changed outside (in a directory the user can
// write to, so that an escape would have succeeded).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { hostDirs, hostFiles, manifest } from './archive-helpers.js';

const e2e = e2eSetup('archive-hostile');

/** argv: kind, output file, outside dir (absolute). Writes one hostile layer. */
const MAKE = String.raw`
import io, sys, tarfile
kind, out, outside = sys.argv[1:4]
up = '../../../../' + outside.rsplit('/', 1)[1]  # from the staging upper dir to 'outside'
members = []
def f(name, data=b'pwned', **kw): members.append((tarfile.TarInfo(name), data, kw))
def link(name, target, type): members.append((tarfile.TarInfo(name), None, {'type': type, 'linkname': target}))
def node(name, type, **kw): members.append((tarfile.TarInfo(name), None, dict(type=type, **kw)))
if kind == 'absolute': f(outside + '/abs')
elif kind == 'dotdot': f(up + '/dotdot')
elif kind == 'dotdot-inside': f('etc/../../../../../' + up + '/inside')
elif kind == 'write-through-symlink': link('lnk', outside, tarfile.SYMTYPE); f('lnk/through')
elif kind == 'symlink-escape': link('esc', up, tarfile.SYMTYPE)
elif kind == 'symlink-then-dir': link('s', outside, tarfile.SYMTYPE); node('s', tarfile.DIRTYPE, mode=0o777)
elif kind == 'hardlink-escape': link('hl', up + '/victim', tarfile.LNKTYPE)
elif kind == 'hardlink-absolute': link('hl', outside + '/victim', tarfile.LNKTYPE)
elif kind == 'hardlink-through-symlink': link('s', outside, tarfile.SYMTYPE); link('hl', 's/victim', tarfile.LNKTYPE)
elif kind == 'char-device': node('dev/null', tarfile.CHRTYPE, devmajor=1, devminor=3)
elif kind == 'block-device': node('dev/sda', tarfile.BLKTYPE, devmajor=8, devminor=0)
elif kind == 'too-deep': f('/'.join(['d'] * 200) + '/deep')
elif kind == 'too-long': f('x' * 300)
elif kind == 'opaque-root': f('.wh..wh..opq', b'')
elif kind in ('truncated', 'bad-checksum'): f('usr/big', b'x' * 100000)
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    for info, data, kw in members:
        for k, v in kw.items(): setattr(info, k, v)
        if data is not None: info.size = len(data)
        t.addfile(info, io.BytesIO(data) if data is not None else None)
`;

describe('restore refuses hostile archives', { skip: skipReason }, () => {
  let outside = '';
  let work = '';
  before(() => {
    outside = mkdtempSync('/tmp/venv-test-outside-');
    work = mkdtempSync('/tmp/venv-test-hostile-');
    writeFileSync(`${outside}/victim`, 'the original\n');
  });
  after(() => {
    rmSync(outside, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  function make(kind: string): string {
    const file = `${work}/${kind}.tar`;
    execFileSync('python3', ['-c', MAKE, kind, file, outside]);
    return file;
  }

  let count = 0;
  async function assertRefused(file: string, message: RegExp): Promise<void> {
    const name = `evil${++count}`;
    const result = await e2e.venv(['restore', file, name]);
    assert.equal(result.exitCode, 125, result.stderr);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /internal error/);
    assert.deepEqual(
      readdirSync(`${e2e.home}/envs`).filter((entry) => entry === name || entry.startsWith('.')),
      [],
      'no env and no staging dir are left',
    );
    assert.deepEqual(readdirSync(outside), ['victim'], 'nothing was created outside');
    const victim = statSync(`${outside}/victim`);
    assert.equal(victim.nlink, 1, 'nothing links to a file outside');
    assert.equal(victim.mode & 0o777, 0o644);
    assert.equal(statSync(outside).mode & 0o777, 0o700, 'the directory outside was not changed');
  }

  const kinds: [string, RegExp][] = [
    ['absolute', /entry "\/tmp\/venv-test-outside-.*\/abs" is an absolute path/],
    ['dotdot', /entry "\.\.\/\.\.\/\.\.\/\.\.\/venv-test-outside-.*\/dotdot" contains "\.\."/],
    ['dotdot-inside', /entry "etc\/\.\.\/.*" contains "\.\."/],
    ['write-through-symlink', /entry "lnk\/through" would be written through the symlink "lnk"/],
    ['symlink-escape', /entry "esc" is a symlink to .* which leaves the archive's tree/],
    ['symlink-then-dir', /entry "s\/?" replaces a symlink/],
    ['hardlink-escape', /entry "hl" is a hardlink to .* outside the archive's tree/],
    ['hardlink-absolute', /entry "hl" is a hardlink to .* outside the archive's tree/],
    ['hardlink-through-symlink', /entry "hl" is a hardlink through the symlink "s"/],
    ['char-device', /entry "dev\/null" is a device node/],
    ['block-device', /entry "dev\/sda" is a device node/],
    ['too-deep', /entry "d\/d\/.*" is nested deeper than 128/],
    ['too-long', /entry "x+" has a name longer than 255 bytes/],
    ['opaque-root', /entry "\.wh\.\.wh\.\.opq" makes the root of the tree opaque/],
  ];
  for (const [kind, message] of kinds) {
    test(`refuses: ${kind}`, async () => {
      await assertRefused(make(kind), message);
    });
  }

  test('refuses: a truncated archive', async () => {
    const file = make('truncated');
    truncateSync(file, 512 + 512 + 4096 + 700);
    await assertRefused(file, /truncated/);
  });

  test('refuses: a header with a bad checksum', async () => {
    const file = make('bad-checksum');
    const bytes = execFileSync('cat', [file]);
    bytes.writeUInt8((bytes[2] as number) ^ 1, 2); // a byte of the first header's name
    writeFileSync(file, bytes);
    await assertRefused(file, /checksum/);
  });

  test('refuses: something that is not a tar archive, compressed or not', async () => {
    writeFileSync(`${work}/garbage.tar`, Buffer.alloc(4096, 'not a tar '));
    await assertRefused(`${work}/garbage.tar`, /not a tar archive/);
    execFileSync('sh', ['-c', 'head -c 10000 /dev/urandom | zstd -q -c > "$1"', 'sh', `${work}/noise.tar.zst`]);
    await assertRefused(`${work}/noise.tar.zst`, /archive|zstd/);
  });

  test('refuses: hostile entries inside gzip and zstd compression too', async () => {
    const plain = make('dotdot');
    execFileSync('sh', ['-c', 'gzip -c "$1" > "$1.gz" && zstd -q -c "$1" > "$1.zst"', 'sh', plain]);
    await assertRefused(`${plain}.gz`, /contains "\.\."/);
    await assertRefused(`${plain}.zst`, /contains "\.\."/);
  });
});

/** A layer as other OCI tools write it: "./" names, markers before or after, dirs after files. */
const FOREIGN = String.raw`
import io, sys, tarfile
out, gone, emptied = sys.argv[1:4]
def add(t, name, data=None, type=tarfile.REGTYPE, mode=0o644):
    i = tarfile.TarInfo(name); i.type = type; i.mode = mode; i.mtime = 1600000000
    if data is not None: i.size = len(data)
    t.addfile(i, io.BytesIO(data) if data is not None else None)
with tarfile.open(out, 'w:gz', format=tarfile.GNU_FORMAT) as t:
    d, b = gone.rsplit('/', 1)
    add(t, '.' + d + '/.wh.' + b, b'')
    add(t, '.' + emptied + '/.wh..wh..opq', b'')
    add(t, '.' + emptied + '/new', b'new\n')
    add(t, './opt/foreign/deep/file', b'deep\n')
    add(t, './opt/foreign/deep', type=tarfile.DIRTYPE, mode=0o750)
    add(t, './opt/foreign/' + 'long' * 40, b'long name\n')
`;

describe('restore accepts layers written by other tools', { skip: skipReason }, () => {
  test('"./" names, GNU long names, gzip: deletions and opaque dirs show inside the env', async () => {
    const [gone] = hostFiles(1);
    const [emptied] = hostDirs(1);
    const file = `${e2e.home}/foreign.tar.gz`;
    execFileSync('python3', ['-c', FOREIGN, file, gone as string, emptied as string]);
    const result = await e2e.venv(['restore', file]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /created env "foreign"/);
    const seen = await manifest(e2e, 'foreign', [gone as string, `ls:${emptied}`, '/opt/foreign']);
    assert.equal(seen[gone as string], null);
    assert.deepEqual(seen[`ls:${emptied}`], ['new']);
    assert.equal((seen['/opt/foreign/deep'] as { mode: string }).mode, '0o40750');
    assert.ok(seen[`/opt/foreign/${'long'.repeat(40)}`]);
    assert.equal(basename(file), 'foreign.tar.gz');
  });
});
