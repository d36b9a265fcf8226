// The header-order matrix end to end, as the unprivileged user: extended headers (pax,
// GNU long name and long link, global) in every order up to two before a file and a file
// whose own name is the opaque marker (the two ways the issue got through), and the same
// without global headers before a symlink and a whiteout (the unit test runs all of them,
// up to three, against GNU tar's reading). Each restore is refused
// (one line, exit 125, no env) or makes exactly the entry the filter read: the names in
// the env's upper dir are the filter's, never the dangerous ones of the ustar block
// (below the archive's symlink to a directory outside, or an opaque marker at the top).
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { orderArchive, orderCase, sequences, type Target } from '../helpers/header-order.js';

const e2e = e2eSetup('archive-header-order');

describe('header order: restore refuses, or extracts what the filter checked', { skip: skipReason }, () => {
  let outside = '';
  let work = '';
  before(() => {
    outside = mkdtempSync('/tmp/venv-test-outside-');
    work = mkdtempSync('/tmp/venv-test-order-');
  });
  after(() => {
    rmSync(outside, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  let count = 0;
  const targets: Target[] = ['file', 'marker-named', 'symlink', 'marker'];
  for (const target of targets) {
    test(`x, L, K and g headers in every order up to two before a ${target}`, async () => {
      const all = sequences(2);
      for (const metas of target === 'file' || target === 'marker-named' ? all : all.filter((m) => !m.includes('g'))) {
        const order = orderCase(metas, target);
        const name = `order${++count}`;
        const file = `${work}/${name}.tar`;
        writeFileSync(file, orderArchive(order, outside));
        const result = await e2e.venv(['restore', file, name]);
        assert.deepEqual(readdirSync(outside), [], `${order.title}: nothing written outside`);
        const upper = `${e2e.envDir(name)}/upper`;
        if (result.exitCode !== 0) {
          assert.equal(result.exitCode, 125, `${order.title}: ${result.stderr}`);
          assert.match(
            result.stderr,
            /^venv: error: refusing the archive: entry "[^\n]*"[^\n]*\n(hint: [^\n]*\n)?$/,
            order.title,
          );
          assert.equal(order.expected, undefined, `${order.title} was refused: ${result.stderr}`);
          assert.deepEqual(
            readdirSync(`${e2e.home}/envs`).filter((entry) => entry === name || entry.startsWith('.')),
            [],
            `${order.title}: no env and no staging dir`,
          );
          continue;
        }
        const expected = order.expected;
        assert.ok(expected, `${order.title} was accepted`);
        assert.ok(!readdirSync(upper).includes('.wh..wh..opq'), `${order.title}: no opaque marker at the top`);
        assert.ok(lstatSync(`${upper}/lnk`).isSymbolicLink(), `${order.title}: the symlink is still one`);
        assert.deepEqual(readdirSync(`${upper}/d`), [expected.path.slice('d/'.length)], order.title);
        const made = lstatSync(`${upper}/${expected.path}`);
        if (target === 'marker') assert.ok(made.isCharacterDevice(), order.title);
        else if (target === 'symlink') assert.equal(readlinkSync(`${upper}/${expected.path}`), expected.linkpath);
        else assert.ok(made.isFile(), order.title);
      }
    });
  }
});
