// Bounded work: an archive that expands past the limit fails within seconds, with one
// line naming the limit, and leaves no env and no staging dir, whatever its compression;
// restore stops reading soon after the end of an archive; a stream that is no archive
// (/dev/zero, random bytes) is refused at once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { archive, entry } from '../helpers/tar-fixtures.js';

const e2e = e2eSetup('archive-bounds');

/** Writes a tar of `files` files of `each` zero bytes to stdout (streamed: no memory or disk). */
const BOMB = String.raw`
import sys, tarfile
files, each = int(sys.argv[1]), int(sys.argv[2])
class Zeros:
    def __init__(self, n): self.left = n
    def read(self, size=-1):
        n = self.left if size < 0 else min(size, self.left)
        self.left -= n
        return bytes(n)
with tarfile.open(fileobj=sys.stdout.buffer, mode='w|', format=tarfile.PAX_FORMAT) as t:
    for i in range(files):
        info = tarfile.TarInfo('opt/bomb/f%d' % i); info.size = each
        t.addfile(info, Zeros(each))
`;

describe('restore does bounded work', { skip: skipReason }, () => {
  let work = '';
  before(() => {
    work = mkdtempSync('/tmp/venv-test-bounds-');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  let count = 0;
  async function assertRefusedFast(file: string, message: RegExp, args: string[] = []): Promise<number> {
    const name = `bomb${++count}`;
    const started = Date.now();
    const result = await e2e.venv(['restore', ...args, file, name], { timeoutMs: 60_000 });
    const took = Date.now() - started;
    assert.equal(result.exitCode, 125, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 2, `one line and a hint: ${result.stderr}`);
    assert.ok(took < 10_000, `took ${took} ms`);
    assert.deepEqual(
      readdirSync(`${e2e.home}/envs`).filter((entry) => entry === name || entry.startsWith('.')),
      [],
      'no env and no staging dir',
    );
    return took;
  }

  // 512 MiB of zeros in 32 files: a few MB compressed, refused at 16 MiB.
  for (const [compression, command, ext] of [
    ['zstd', 'zstd -q -c', '.tar.zst'],
    ['gzip', 'gzip -1 -c', '.tar.gz'],
  ] as const) {
    test(`a ${compression} bomb fails within seconds at --max-size, leaving nothing`, async () => {
      const file = `${work}/bomb${ext}`;
      execFileSync('sh', ['-c', `python3 -c "$1" 32 16777216 | ${command} > "$2"`, 'sh', BOMB, file]);
      const took = await assertRefusedFast(file, /expands past --max-size 16\.0 MiB \(at entry "opt\/bomb\/f0"\)/, [
        '--max-size',
        '16M',
      ]);
      process.stdout.write(`# ${compression} bomb of ${statSync(file).size} bytes refused in ${took} ms\n`);
    });
  }

  test('an uncompressed archive past --max-size fails at the entry over it, leaving nothing', async () => {
    const file = `${work}/plain.tar`;
    execFileSync('sh', ['-c', 'python3 -c "$1" 8 4194304 > "$2"', 'sh', BOMB, file]);
    const took = await assertRefusedFast(file, /expands past --max-size 10\.0 MiB \(at entry "opt\/bomb\/f2"\)/, [
      '--max-size',
      '10M',
    ]);
    process.stdout.write(`# plain archive of 32 MiB refused in ${took} ms\n`);
    const fits = await e2e.venv(['restore', '--max-size', '40M', file, 'fits']);
    assert.equal(fits.exitCode, 0, fits.stderr);
  });

  test('a header that claims 1 TiB is refused by the default limit (the free space) before any data', async () => {
    const file = `${work}/huge.tar`;
    const bytes = archive([entry('opt/huge'), 'x']);
    bytes.write('17777777777\0', 124, 'latin1'); // the size field: 8 GiB - 1, as big as octal goes...
    bytes.writeUInt8(0x80, 124); // ...and then base-256: 1 TiB
    bytes.fill(0, 125, 136);
    bytes.writeUInt8(1, 130); // 256^5
    bytes.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += bytes[i] as number;
    bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    writeFileSync(file, bytes);
    await assertRefusedFast(file, /no space left for it on the device that holds VENV_HOME \(at entry "opt\/huge"/);
  });

  test('a valid archive followed by 20 GB of zeros restores quickly: reading stops after the end', async () => {
    const file = `${work}/padded.tar`;
    writeFileSync(file, archive([entry('opt/small'), 'small\n']));
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, 20 * 2 ** 30); // sparse: no disk used, 11 s to read through
    closeSync(fd);
    const started = Date.now();
    const result = await e2e.venv(['restore', file, 'padded']);
    const took = Date.now() - started;
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /\(1 entries\)/);
    assert.ok(took < 8_000, `took ${took} ms`);
    process.stdout.write(`# 20 GB of zeros after the archive: restored in ${took} ms\n`);
  });

  test('/dev/zero and random bytes are not archives: refused at once', async () => {
    await assertRefusedFast('/dev/zero', /not a tar archive: over 1 MiB of zero bytes/);
    await assertRefusedFast('/dev/urandom', /not a tar archive/);
  });
});
