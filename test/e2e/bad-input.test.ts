// Bad env names and missing envs are refused with one error line and a hint, exit 125,
// and touch nothing on disk.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';

const e2e = e2eSetup('badinput');

const BAD_NAMES = ['-x', '.x', 'a/b', '../x', 'a b', 'x'.repeat(65), '', 'é'];
const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;

/** Everything under VENV_HOME, to show that a refused command left it as it was. */
function tree(dir = e2e.home, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${prefix}${entry.name}`;
    return entry.isDirectory() && !['upper', 'work', 'merged'].includes(entry.name)
      ? [path, ...tree(`${dir}/${entry.name}`, `${path}/`)]
      : [path];
  });
}

describe('bad env names', { skip: skipReason }, () => {
  for (const name of BAD_NAMES) {
    test(`${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}... (${name.length} chars)` : name)} is refused by every command`, async () => {
      const before = tree();
      for (const args of [
        ['create', '--', name],
        ['shell', '--', name],
        ['run', '--', name, 'true'],
        ['rm', '--', name],
        ['rm', '--force', '--', name],
      ]) {
        const result = await e2e.venv(args, { input: `touch ${e2e.home}/should-not-run\n` });
        assert.equal(result.exitCode, 125, `venv ${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, /^venv: error: invalid env name/, `venv ${args.join(' ')}`);
        assert.match(result.stderr, ONE_ERROR);
        assert.equal(result.stdout, '');
      }
      assert.deepEqual(tree(), before);
      assert.equal(existsSync(`${e2e.home}/should-not-run`), false);
    });
  }

  test('an option-like name without "--" is refused too', async () => {
    const result = await e2e.venv(['create', '-x']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /unknown option '-x'/);
    assert.equal(existsSync(e2e.envDir('-x')), false);
  });

  test('a 64-character name is fine', async () => {
    const name = `a${'b'.repeat(63)}`;
    await e2e.create(name);
    const result = await e2e.venv(['run', name, '--', 'sh', '-c', 'echo "$VENV_NAME"']);
    assert.equal(result.stdout, `${name}\n`);
  });
});

describe('a missing env', { skip: skipReason }, () => {
  for (const args of [
    ['run', 'missing', '--', 'true'],
    ['run', 'missing', 'true'],
    ['rm', 'missing'],
  ]) {
    test(`venv ${args.join(' ')}: ENV_NOT_FOUND, nothing created`, async () => {
      for (const viaNode of [false, true]) {
        const result = await e2e.venv(args, { viaNode });
        assert.equal(result.exitCode, 125);
        assert.match(result.stderr, /^venv: error: no env named "missing"/);
        assert.match(result.stderr, ONE_ERROR);
        assert.equal(existsSync(e2e.envDir('missing')), false);
      }
    });
  }

  test('creating an env that exists is refused', async () => {
    await e2e.create('twice');
    const result = await e2e.venv(['create', 'twice']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /^venv: error: an env named "twice" already exists/);
    assert.match(result.stderr, ONE_ERROR);
  });
});
