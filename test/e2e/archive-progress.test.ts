// The progress bar of `venv commit` on a terminal, and nothing of it elsewhere. The
// terminal is a pseudo-terminal made by script(1); the bar's figures come from tar's
// checkpoints, counted in records whose size depends on the compression
// (commit-tar-args.ts), so each compression is checked against the size of what it read.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { VENV_BIN } from '../helpers/venv-cli.js';

const e2e = e2eSetup('archive-progress');
const hasScript = spawnSync('script', ['--version']).status === 0;
const MIB = 1 << 20;
const DATA_MIB = 40;

/** Runs `venv ARGS` with a terminal on stdin, stdout and stderr; what the terminal showed. */
function onTerminal(args: string[]): { status: number | null; screen: string } {
  const line = [VENV_BIN, ...args].map((word) => `'${word}'`).join(' ');
  const result = spawnSync('script', ['--quiet', '--return', '--command', line, '/dev/null'], {
    env: { ...process.env, VENV_HOME: e2e.home, TERM: 'dumb' },
    encoding: 'latin1',
    timeout: 120_000,
  });
  return { status: result.status, screen: result.stdout };
}

const UNITS = { B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 1 << 30 };

/** The byte counts the bar showed ("12.0 MiB"), in bytes, in order. */
function shownBytes(screen: string): number[] {
  return [...screen.matchAll(/\[[#.]{30}\]\s+\d+% ([\d.]+) (B|KiB|MiB|GiB)/g)].map(
    ([, value, unit]) => Number(value) * UNITS[unit as keyof typeof UNITS],
  );
}

describe('commit progress', { skip: skipReason || (hasScript ? false : 'needs script(1) (bsdutils)') }, () => {
  let out = '';
  before(async () => {
    await e2e.create('big');
    const dir = `${e2e.envDir('big')}/upper/opt/data`;
    mkdirSync(dir, { recursive: true });
    // Random bytes: compression cannot make the commit too quick to show a bar.
    execFileSync('sh', [
      '-c',
      `for i in 1 2 3 4; do head -c ${DATA_MIB / 4}M /dev/urandom > "$1/part$i"; done`,
      'sh',
      dir,
    ]);
    out = mkdtempSync('/tmp/venv-test-out-');
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  for (const compression of ['zstd', 'none']) {
    test(`on a terminal (${compression}): a bar that counts what was read, then the sha256 line`, () => {
      const file = `${out}/big-${compression}.tar`;
      const { status, screen } = onTerminal(['commit', 'big', '-o', file, '--compress', compression]);
      assert.equal(status, 0, screen);
      assert.match(screen, /committing big \[/);
      const shown = shownBytes(screen);
      assert.ok(shown.length > 0, `no figures in the bar: ${JSON.stringify(screen)}`);
      assert.deepEqual(
        [...shown].sort((a, b) => a - b),
        shown,
        'the count only goes up',
      );
      // tar reports every 10 MiB (the bar shows some of the reports): a record size out of
      // step with tar's count of records would show other figures.
      for (const bytes of shown) {
        assert.ok(bytes > 0 && bytes % (10 * MIB) === 0, `${bytes}: not a whole number of 10 MiB`);
        assert.ok(bytes <= (DATA_MIB + 1) * MIB, `${bytes}: more than was read`);
      }
      if (compression === 'zstd') {
        // Long enough for the estimate of the total (size-estimate.ts) to come in.
        assert.match(screen, /\] +[1-9]\d?% /, 'a share of the total is shown');
      }
      const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
      assert.match(screen, new RegExp(`sha256:${sha256}  ${file}`));
    });
  }

  test('not on a terminal: no bar, just the sha256 line', async () => {
    const result = await e2e.venv(['commit', 'big', '-o', `${out}/plain.tar.zst`]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^sha256:[0-9a-f]{64} {2}\S+plain\.tar\.zst {2}\(.*\)\n$/);
  });
});
