// The progress line's text (cli/progress-bar.ts): a bar with a percentage when the total is
// known, a count of entries when it is not (diff, list), nothing before the delay, and an
// erase only when something was drawn.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressBar } from '../../src/cli/progress-bar.js';

function fakeStream(): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('progress line', () => {
  test('a known total: a bar, never 100% before the end', () => {
    const { stream, written } = fakeStream();
    const bar = progressBar('committing work', stream);
    bar.update(2048, 2048);
    assert.deepEqual(written, [`\rcommitting work [${'#'.repeat(30)}] 99% 2.0 KiB\x1b[K`]);
    bar.finish();
    assert.equal(written.at(-1), '\r\x1b[K');
  });

  test('an unknown total: a count of entries, no bar', () => {
    const { stream, written } = fakeStream();
    progressBar('diffing work', stream, { unit: 'entries' }).update(61234, 0);
    assert.deepEqual(written, ['\rdiffing work: 61,234 entries\x1b[K']);
  });

  test('nothing before the delay, and then no erase either', async () => {
    const { stream, written } = fakeStream();
    const bar = progressBar('measuring envs', stream, { unit: 'entries', delayMs: 200 });
    bar.update(1000, 0);
    bar.finish();
    assert.deepEqual(written, []);
    const later = progressBar('measuring envs', stream, { unit: 'entries', delayMs: 50 });
    await sleep(60);
    later.update(3000, 0);
    later.finish();
    assert.deepEqual(written, ['\rmeasuring envs: 3,000 entries\x1b[K', '\r\x1b[K']);
  });
});
