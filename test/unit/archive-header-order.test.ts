// One reading of every entry: whatever extended headers come before an entry, the filter
// either refuses the archive or hands GNU tar a stream that tar reads exactly as the
// filter read its input. GNU tar itself (tar -tv) reads the filter's output here.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { ArchiveError } from '../../src/archive/archive-error.js';
import { OciToUpper } from '../../src/archive/oci-to-upper.js';
import { memberPath } from '../../src/archive/path-safety.js';
import { Type } from '../../src/archive/tar-header.js';
import { TarParser } from '../../src/archive/tar-parse.js';
import { orderArchive, orderCase, sequences, type Target } from '../helpers/header-order.js';

interface Seen {
  path: string;
  type: string;
  linkpath: string;
}

/** Runs the filter; returns its output and the entries as it read them (after its checks). */
function runFilter(input: Buffer): { output: Buffer; checked: Seen[] } {
  const parser = new TarParser();
  const filter = new OciToUpper({ opaqueXattr: undefined, maxId: 65535 });
  const out: Buffer[] = [];
  const checked: Seen[] = [];
  parser.push(input, (item) => {
    filter.item(item, (piece) => out.push(Buffer.from(piece)));
    if (item.kind === 'entry') {
      const { entry } = item;
      const path = memberPath(entry.path);
      const whiteout = /(^|\/)\.wh\.([^/]*)$/.exec(path);
      checked.push(
        whiteout && whiteout[2] !== '.wh..opq'
          ? { path: path.replace('.wh.', ''), type: Type.chardev, linkpath: '' }
          : { path, type: entry.type, linkpath: entry.type === Type.file ? '' : entry.linkpath },
      );
    }
  });
  parser.end();
  filter.end((piece) => out.push(piece));
  return { output: Buffer.concat(out), checked };
}

const TAR_TYPES: Record<string, string> = { '-': Type.file, d: Type.dir, l: Type.symlink, c: Type.chardev };

/** The entries as GNU tar reads them. */
function tarReads(output: Buffer): Seen[] {
  const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: output, env: { LC_ALL: 'C' } });
  return listing
    .toString('latin1')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = /^(\S)\S*\s+\S+\s+\S+\s+\S+\s+\S+\s+(.*)$/.exec(line);
      if (!match) throw new Error(`cannot read tar's line: ${line}`);
      const [name = '', link = ''] = (match[2] as string).split(' -> ');
      return { path: name.replace(/\/$/, ''), type: TAR_TYPES[match[1] as string] ?? '?', linkpath: link };
    });
}

describe('header order: the filter and GNU tar read every entry the same way', () => {
  const targets: Target[] = ['file', 'marker-named', 'symlink', 'marker'];
  const outside = '/tmp/outside';
  let refused = 0;
  let accepted = 0;
  for (const target of targets) {
    test(`x, L, K and g headers in every order up to three before a ${target}: refused, or read alike`, () => {
      for (const metas of sequences(3)) {
        const test = orderCase(metas, target);
        let result: { output: Buffer; checked: Seen[] };
        try {
          result = runFilter(orderArchive(test, outside));
        } catch (error) {
          assert.ok(error instanceof ArchiveError, `${test.title}: ${String(error)}`);
          assert.doesNotMatch(error.message, /\n/, 'one line');
          assert.equal(test.expected, undefined, `${test.title} was refused: ${error.message}`);
          refused += 1;
          continue;
        }
        // What GNU tar will extract is what the filter checked, entry for entry.
        assert.deepEqual(tarReads(result.output), result.checked, test.title);
        assert.notEqual(test.expected, undefined, `${test.title} was accepted: ${JSON.stringify(result.checked)}`);
        const last = result.checked[result.checked.length - 1];
        const expected = test.expected;
        assert.deepEqual(
          [last?.path, last?.type, last?.linkpath ?? ''],
          [expected?.path, expected?.type, expected?.linkpath ?? ''],
          test.title,
        );
        accepted += 1;
      }
    });
  }
  test('both outcomes occur (the matrix is not vacuous)', () => {
    assert.ok(refused > 100 && accepted > 30, `${refused} refused, ${accepted} accepted`);
  });
});
