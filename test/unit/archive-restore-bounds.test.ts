// What the restore filter refuses besides unsafe paths: OCI markers that are not empty
// regular files, archives that expand past the limit (checked at each header, before the
// data goes on), and streams that are not archives; and that it stops reading soon after
// the end of an archive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { describe, test } from 'node:test';
import { OciToUpper } from '../../src/archive/oci-to-upper.js';
import { parseSize, budget } from '../../src/archive/size-limit.js';
import { Type } from '../../src/archive/tar-header.js';
import { TarParser } from '../../src/archive/tar-parse.js';
import { endOfArchive, entryHeader } from '../../src/archive/tar-write.js';
import { archive, entry } from '../helpers/tar-fixtures.js';

function run(bytes: Buffer, limit?: number): { entries: string[]; written: number } {
  const parser = new TarParser({
    budget: limit === undefined ? undefined : budget({ bytes: limit, source: 'max-size' }),
  });
  const filter = new OciToUpper({ opaqueXattr: undefined, maxId: 65535 });
  const entries: string[] = [];
  let written = 0;
  parser.push(bytes, (item) => {
    if (item.kind === 'entry') entries.push(item.entry.path);
    filter.item(item, (piece) => (written += piece.length));
  });
  parser.end();
  return { entries, written };
}

describe('OCI markers are empty regular files', () => {
  for (const name of ['d/.wh.gone', 'd/.wh..wh..opq']) {
    test(`"${name}" as a hardlink, a symlink, a directory, a fifo or a file with data is refused`, () => {
      const dir = [entry('d', { type: Type.dir })] as [ReturnType<typeof entry>];
      const cases: [ReturnType<typeof entry>, string, RegExp][] = [
        [entry(name, { type: Type.hardlink, linkpath: 'd/x' }), '', /is a hardlink/],
        [entry(name, { type: Type.symlink, linkpath: '/etc' }), '', /is a symlink/],
        [entry(name, { type: Type.dir }), '', /is a directory/],
        [entry(name, { type: Type.fifo }), '', /is a fifo/],
        [entry(name), 'data', /is a regular file with data/],
      ];
      for (const [marker, data, why] of cases) {
        const bytes = archive(dir, [entry('d/x'), 'x'], [marker, data]);
        assert.throws(
          () => run(bytes),
          new RegExp(`entry "${name.replace(/\./g, '\\.')}" is named as .*${why.source}`),
        );
      }
      assert.doesNotThrow(() => run(archive(dir, [entry(name)])), 'an empty regular file is a marker');
    });
  }

  test('a hardlink to a marker is refused (the marker never exists under its name)', () => {
    const bytes = archive([entry('d/.wh.gone')], [entry('h', { type: Type.hardlink, linkpath: 'd/.wh.gone' })]);
    assert.throws(() => run(bytes), /entry "h" is a hardlink to the whiteout marker "d\/\.wh\.gone"/);
  });
});

describe('the expansion limit', () => {
  test('an entry whose header claims more than the limit is refused before any of its data', () => {
    // A header for 1 TiB and no data at all: the limit, not the truncation, stops it.
    const bytes = Buffer.concat([entryHeader(entry('usr/huge', { size: 2 ** 40 })), Buffer.alloc(512)]);
    assert.throws(() => run(bytes, 10 << 20), /expands past --max-size 10\.0 MiB \(at entry "usr\/huge"\)/);
  });

  test('many entries that add up past the limit are refused at the first one over it', () => {
    const files = Array.from(
      { length: 20 },
      (_, i) => [entry(`f${i}`), 'x'.repeat(100_000)] as [ReturnType<typeof entry>, string],
    );
    assert.throws(() => run(archive(...files), 1 << 20), /at entry "f10"/);
    assert.equal(run(archive(...files), 4 << 20).entries.length, 20, 'under the limit: all of it');
  });

  test('headers count too: a run of extended headers cannot expand for free', () => {
    const pax = entryHeader(entry(`${'p/'.repeat(60)}x`, { xattrs: new Map([['user.big', Buffer.alloc(600_000)]]) }));
    assert.throws(() => run(Buffer.concat([pax, endOfArchive()]), 500_000), /expands past.*at an extended header/);
  });

  test('--max-size reads sizes in bytes or with K, M, G, T', () => {
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('10M'), 10 << 20);
    assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
    assert.equal(parseSize('2GiB'), 2 ** 31);
    assert.equal(parseSize('500k'), 500 << 10);
    for (const bad of ['', '0', '-1M', '10X', 'lots']) assert.throws(() => parseSize(bad), /--max-size expects/, bad);
  });
});

describe('the restore filter process stops reading', () => {
  const script = new URL('../../src/archive/restore-filter.js', import.meta.url).pathname;
  const options = JSON.stringify({ opaqueXattr: undefined, maxId: 65535 });
  const filterOn = (file: string) =>
    spawnSync(process.execPath, [script, options], {
      stdio: [openSync(file, 'r'), 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 20_000,
    });

  test('a valid archive followed by 20 GB of zeros: done after at most 1 MiB of them', () => {
    const dir = mkdtempSync('/tmp/venv-test-trailer-');
    try {
      const file = `${dir}/a.tar`;
      writeFileSync(file, archive([entry('f'), 'content']));
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, 20 * 2 ** 30); // sparse: no disk used
      closeSync(fd);
      const started = Date.now();
      const result = filterOn(file);
      assert.match(result.stderr, /venv-filter ok 1 7\n$/);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('/dev/zero is not an archive: refused at once', () => {
    const started = Date.now();
    const result = filterOn('/dev/zero');
    assert.match(result.stderr, /venv-filter error ARCHIVE_INVALID\tnot a tar archive: over 1 MiB of zero bytes/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});
