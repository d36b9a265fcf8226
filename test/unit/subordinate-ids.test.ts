import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasSubordinateRange, subordinateRangeIn } from '../../src/host/host-checks.js';

const SUBUID = `root:100000:65536
alice:165536:65536
1002:231072:65536
nobody-range:296608:0
`;

describe('subordinate id ranges', () => {
  test('found by user name', () => {
    assert.equal(subordinateRangeIn(SUBUID, 'alice', 1001), true);
  });

  test('found by numeric uid', () => {
    assert.equal(subordinateRangeIn(SUBUID, 'bob', 1002), true);
  });

  test('a range of 0 ids is no range', () => {
    assert.equal(subordinateRangeIn(SUBUID, 'nobody-range', 4000), false);
  });

  test('another user, a name that is only a prefix, an empty file: no range', () => {
    assert.equal(subordinateRangeIn(SUBUID, 'carol', 1003), false);
    assert.equal(subordinateRangeIn(SUBUID, 'alic', 1003), false);
    assert.equal(subordinateRangeIn('', 'alice', 1001), false);
  });

  test('blank lines, surrounding blanks and malformed lines are tolerated', () => {
    assert.equal(subordinateRangeIn('\n  alice:165536:65536  \n', 'alice', 1), true);
    assert.equal(subordinateRangeIn('alice\nalice:x\n', 'alice', 1), false);
    assert.equal(subordinateRangeIn('alice:1:junk\n', 'alice', 1), false);
  });

  test('a file that cannot be read gives no range', () => {
    assert.equal(hasSubordinateRange('/nonexistent/subuid'), false);
  });
});
