// Pure parts of `venv apply`: the PATH filter and the record of what apply wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApplyOp, formatOps, normalizeFilter, selectOps } from '../../src/apply/apply-plan.js';
import { appliedTime } from '../../src/apply/applied-record.js';
import { VenvError } from '../../src/errors.js';

const op = (path: string, action: ApplyOp['action'], kind: ApplyOp['kind'], type: ApplyOp['type']): ApplyOp => ({
  path,
  show: `/${path}`,
  action,
  kind,
  type,
  entry: path,
});

const OPS = [
  op('etc', 'chmod', 'modified', 'dir'),
  op('etc/hosts', 'replace', 'modified', 'file'),
  op('opt/tool', 'add', 'added dir', 'dir'),
  op('srv/old', 'delete', 'deleted', 'dir'),
];

test('normalizeFilter: absolute paths only, "." and ".." resolved, trailing slashes dropped', () => {
  assert.equal(normalizeFilter('/etc/'), 'etc');
  assert.equal(normalizeFilter('/etc/./apt/../hosts'), 'etc/hosts');
  assert.equal(normalizeFilter('/'), '');
  assert.equal(normalizeFilter('/../..'), '');
  assert.equal(normalizeFilter('/srv/caf\u00e9'), Buffer.from('srv/caf\u00e9').toString('latin1'));
  assert.throws(
    () => normalizeFilter('etc'),
    (error: unknown) => error instanceof VenvError && error.code === 'USAGE',
  );
});

test('selectOps: what is at or below a PATH; none given: all; / is everything', () => {
  assert.deepEqual(selectOps(OPS, []), OPS);
  assert.deepEqual(selectOps(OPS, ['']), OPS);
  assert.deepEqual(
    selectOps(OPS, ['etc']).map((o) => o.path),
    ['etc', 'etc/hosts'],
  );
  assert.deepEqual(
    selectOps(OPS, ['etc/hosts', 'opt']).map((o) => o.path),
    ['etc/hosts', 'opt/tool'],
  );
  // "etc/hostsx" is not below "etc/hosts"
  assert.deepEqual(selectOps([...OPS, op('etc/hostsx', 'add', 'added', 'file')], ['etc/hosts']).length, 1);
});

test('selectOps: a PATH inside a tree applied as a whole is refused, naming the tree', () => {
  for (const inside of ['opt/tool/bin', 'srv/old/x']) {
    assert.throws(
      () => selectOps(OPS, [inside]),
      (error: unknown) =>
        error instanceof VenvError && error.code === 'USAGE' && /give \/(opt\/tool|srv\/old)/.test(error.hint ?? ''),
    );
  }
  // Below a directory whose mode alone changed is fine.
  assert.equal(selectOps(OPS, ['etc/hosts']).length, 1);
});

test('formatOps: one line per op, control characters escaped', () => {
  assert.equal(formatOps([op('a\nb', 'add', 'added', 'file')]), 'added      /a\\x0ab\n');
});

test('appliedTime: the path, else the nearest directory above it that apply wrote', () => {
  const times = new Map([
    ['srv/site', 5n],
    ['srv/site/app.conf', 9n],
  ]);
  assert.equal(appliedTime(times, 'srv/site/app.conf'), 9n);
  assert.equal(appliedTime(times, 'srv/site/static/logo.png'), 5n);
  assert.equal(appliedTime(times, 'srv/other'), 0n);
  assert.equal(appliedTime(new Map([['', 3n]]), 'etc/hosts'), 3n);
});
