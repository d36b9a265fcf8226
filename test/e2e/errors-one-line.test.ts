// Failures that used to be a stack, a message cut after its colon, or a 4 KB echo: each is
// one line (plus a hint) and exit 125.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { venv, type VenvResult } from '../helpers/venv-cli.js';

const e2e = e2eSetup('errors');
const work = skipReason ? '/nonexistent' : mkdtempSync('/tmp/venv-test-errors-');
after(() => rmSync(work, { recursive: true, force: true }));

function assertOneLine(result: VenvResult, pattern: RegExp): void {
  assert.equal(result.exitCode, 125, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.ok(lines.length <= 2, result.stderr);
  assert.match(lines[0] ?? '', /^venv: error: /);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(lines[0] ?? '', /: $/);
  if (lines[1] !== undefined) assert.match(lines[1], /^hint: /);
}

describe('errors are one clear line', { skip: skipReason }, () => {
  test('a 4 KB env name is cut to 64 characters in the message', async () => {
    const name = 'a'.repeat(4096);
    for (const args of [
      ['create', name],
      ['run', name, '--', 'true'],
      ['rm', name],
      ['snapshot', 'x', name],
    ]) {
      const result = await e2e.venv(args);
      assertOneLine(result, /invalid (env name|snapshot tag) "a{64}\.\.\."/);
      assert.ok(result.stderr.length < 400, `${result.stderr.length} bytes of stderr`);
    }
  });

  test('VENV_HOME pointing at a file', async () => {
    const file = `${work}/not-a-dir`;
    writeFileSync(file, '');
    for (const args of [['list'], ['create', 'x'], ['run', 'x', '--', 'true'], ['restore', file, 'x']]) {
      assertOneLine(await venv(file, args), /VENV_HOME is not safe to use: .*not-a-dir is not a directory/);
    }
  });

  test('an env start failure says why, even when unshare says nothing', async () => {
    await e2e.create('nostart');
    const bin = mkdtempSync(`${work}/bin-`);
    writeFileSync(`${bin}/unshare`, '#!/bin/sh\nexit 1\n');
    chmodSync(`${bin}/unshare`, 0o755);
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    for (const viaNode of [false, true]) {
      const result = await e2e.venv(['run', 'nostart', '--', 'true'], { env, viaNode });
      assertOneLine(result, /cannot create the env's namespaces: unshare failed without saying why/);
    }
  });
});
