// Progress on the long commands (snapshot, rollback, restore; commit has its own test in
// archive-progress): one line on a terminal, redrawn in place, and nothing when stderr is
// not a terminal. --quiet, on every command, leaves nothing but errors and data.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';

const e2e = e2eSetup('cliprogress');
const BAR = (label: string) => new RegExp(`\\r${label} \\[[#.]{30}\\] +\\d+% [\\d.]+ (B|KiB|MiB|GiB)`);

describe(
  'progress of snapshot, rollback and restore',
  { skip: skipReason || (hasScript ? false : 'needs script(1)') },
  () => {
    const archive = () => `${e2e.home}/big.tar.zst`;
    before(async () => {
      await e2e.create('big');
      // Incompressible, so that each step takes long enough to draw the bar a few times.
      const made = await e2e.venv(['run', 'big', '--', 'sh', '-c', 'head -c 64M /dev/urandom > /opt/blob']);
      assert.equal(made.exitCode, 0, made.stderr);
      assert.equal((await e2e.venv(['commit', 'big', '-o', archive()])).exitCode, 0);
    });

    test('on a terminal: a bar on one line, then the message', () => {
      const snap = onTerminal(e2e.home, ['snapshot', 'big', 'one']);
      assert.equal(snap.status, 0, snap.screen);
      assert.match(snap.screen, BAR('saving a snapshot of big'));
      // eslint-disable-next-line no-control-regex -- the bar is erased by "\r ESC [K" before the message
      assert.match(snap.screen, /\r\x1b\[Ksaved snapshot "one" of env "big"/);
      assert.doesNotMatch(snap.screen, /\n[^\n]*\[[#.]{30}\]/, 'the bar never starts a new line');

      const back = onTerminal(e2e.home, ['rollback', '-y', 'big', 'one']);
      assert.equal(back.status, 0, back.screen);
      assert.match(back.screen, BAR('rolling big back to one'));
      assert.match(back.screen, /env "big" is back to snapshot "one"/);

      const restored = onTerminal(e2e.home, ['restore', archive(), 'copy']);
      assert.equal(restored.status, 0, restored.screen);
      assert.match(restored.screen, BAR('restoring copy'));
      assert.match(restored.screen, /created env "copy" from /);
    });

    test('not on a terminal: no bar, just the message', async () => {
      for (const args of [
        ['snapshot', 'big', 'two'],
        ['rollback', 'big', 'two'],
        ['restore', archive(), 'copy2'],
      ]) {
        const result = await e2e.venv(args);
        assert.equal(result.exitCode, 0, result.stderr);
        assert.equal(result.stderr, '', args.join(' '));
        assert.doesNotMatch(result.stdout, /\[[#.]{30}\]|\r/);
        assert.match(result.stdout, /^(saved snapshot|env "big" is back|created env)[^\n]*\n$/);
      }
    });

    test('--quiet on a terminal: no bar, no message', () => {
      for (const args of [
        ['snapshot', '-q', 'big', 'three'],
        ['rollback', '-q', '-y', 'big', 'three'],
        ['restore', '--quiet', archive(), 'copy3'],
        ['commit', '-q', 'big', '-o', `${e2e.home}/quiet.tar.zst`],
      ]) {
        const result = onTerminal(e2e.home, args);
        assert.equal(result.status, 0, result.screen);
        assert.equal(result.screen, '', args.join(' '));
      }
      assert.ok(existsSync(e2e.envDir('copy3')) && existsSync(`${e2e.home}/quiet.tar.zst`));
    });
  },
);

describe('--quiet', { skip: skipReason }, () => {
  test('silences messages, never errors or data', async () => {
    for (const args of [
      ['create', '-q', 'hush'],
      ['snapshot', 'rm', '-q', 'big', 'two'],
      ['rm', '--quiet', 'hush'],
    ]) {
      const result = await e2e.venv(args);
      assert.deepEqual([result.exitCode, result.stdout, result.stderr], [0, '', ''], args.join(' '));
    }
    const listed = await e2e.venv(['list', '-q']);
    assert.match(listed.stdout, /^NAME /);
    const failed = await e2e.venv(['rm', '-q', 'hush']);
    assert.equal(failed.exitCode, 125);
    assert.match(failed.stderr, /^venv: error: no env named "hush"/);
  });
});
