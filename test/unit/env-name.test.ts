import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertValidEnvName, isValidEnvName } from '../../src/store/env-name.js';
import { VenvError } from '../../src/errors.js';

const GOOD = ['work', 'a', '0', '_x', 'py3.12', 'build_env-2', 'A.b-C_d', 'x.', 'x-', 'a'.repeat(64)];
const BAD = ['', '-x', '.x', '.', '..', 'a/b', '../x', 'a b', 'a\n', '\na', 'é', 'x'.repeat(65), 'a\0b', 'a:b', '*'];

describe('env names', () => {
  test('accepts letters, digits, ".", "_", "-" up to 64 characters', () => {
    for (const name of GOOD) assert.equal(isValidEnvName(name), true, JSON.stringify(name));
  });

  test('refuses everything else', () => {
    for (const name of BAD) assert.equal(isValidEnvName(name), false, JSON.stringify(name));
  });

  test('the error says what was wrong with the name', () => {
    const cases: [string, RegExp][] = [
      ['', /invalid env name "": it is empty/],
      ['x'.repeat(65), /it has 65 characters, at most 64 are allowed/],
      ['-x', /invalid env name "-x": it may not start with "\." or "-"/],
      ['.x', /it may not start with "\." or "-"/],
      ['a/b', /invalid env name "a\/b": it may hold only letters, digits/],
      ['a\nb', /invalid env name "a\\nb"/],
    ];
    for (const [name, message] of cases) {
      assert.throws(
        () => assertValidEnvName(name),
        (error: unknown) => {
          assert.ok(error instanceof VenvError);
          assert.equal(error.code, 'INVALID_ENV_NAME');
          assert.equal(error.exitCode, 125);
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /\n/, 'one line');
          assert.ok(error.hint);
          return true;
        },
      );
    }
  });

  test('a valid name does not throw', () => {
    for (const name of GOOD) assert.doesNotThrow(() => assertValidEnvName(name));
  });
});
