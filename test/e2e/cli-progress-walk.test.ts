// Progress of the commands that walk an env's changes entry by entry (diff, and list,
// which measures every env): a count on one line on a terminal for a big env, erased
// before the output; nothing when stderr is not a terminal, nor with --quiet.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';

const e2e = e2eSetup('walkprogress');
const FILES = 60_000;
const COUNT = (label: string) => new RegExp(`\\r${label}: [\\d,]+ entries\\x1b\\[K`);

describe('progress of diff and list', { skip: skipReason || (hasScript ? false : 'needs script(1)') }, () => {
  before(async () => {
    await e2e.create('many');
    // Straight into the upper dir of the env (not running): as many changes as a big
    // install leaves, made in a second instead of a minute through the overlay.
    const dir = `${e2e.envDir('many')}/upper/opt/many`;
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < FILES; i++) closeSync(openSync(`${dir}/f${i}`, 'w'));
  });

  test('on a terminal: a count on one line, erased before the output', () => {
    const diff = onTerminal(e2e.home, ['diff', 'many']);
    assert.equal(diff.status, 0, diff.screen.slice(0, 2000));
    assert.match(diff.screen, COUNT('diffing many'));
    assert.doesNotMatch(diff.screen, /\n[^\n]*diffing many:/, 'the count never starts a new line');
    // eslint-disable-next-line no-control-regex -- the count is erased by "\r ESC [K" before the list
    assert.match(diff.screen, /\r\x1b\[K(added|added dir) +\/opt/);
    assert.equal(diff.screen.match(/^added +\/opt\/many\/f\d+\r?$/gm)?.length, FILES);

    const list = onTerminal(e2e.home, ['list']);
    assert.equal(list.status, 0, list.screen);
    assert.match(list.screen, COUNT('measuring envs'));
    // eslint-disable-next-line no-control-regex
    assert.match(list.screen, /\r\x1b\[KNAME +CHANGES/);
    // /opt, /opt/many and the files.
    assert.match(list.screen, new RegExp(`^many +0 B +${FILES + 2} `, 'm'));
  });

  test('not on a terminal, or with --quiet: the output only', async () => {
    for (const args of [['diff', 'many'], ['list']]) {
      const piped = await e2e.venv(args);
      assert.equal(piped.exitCode, 0, piped.stderr);
      assert.equal(piped.stderr, '', args.join(' '));
      assert.doesNotMatch(piped.stdout, /\r|entries\b/);

      const quiet = onTerminal(e2e.home, [args[0] as string, '-q', ...args.slice(1)]);
      assert.equal(quiet.status, 0, quiet.screen.slice(0, 2000));
      // eslint-disable-next-line no-control-regex -- no bar, nor its erasing ESC [K
      assert.doesNotMatch(quiet.screen, /diffing|measuring|\x1b/, args.join(' '));
    }
  });
});
