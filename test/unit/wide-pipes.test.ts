// Commit and restore widen the pipes around zstd and the restore filter (wide-pipes.ts):
// checked with the real perl, sh and GNU tar, by asking the kernel the pipe's size.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { commandLine } from '../../src/archive/commit-tar-args.js';
import { withWidePipes } from '../../src/archive/wide-pipes.js';

/** perl that prints the size of its stdin pipe (F_GETPIPE_SZ) on stderr, then copies stdin. */
const PRINT_PIPE_SIZE = 'print STDERR fcntl(STDIN, 1032, 0), "\\n"; exec "cat"';
/**
 * The same, but only once its input has come: the stages of a pipeline start at once, and
 * the one before may not have widened the pipe yet (it does before it writes anything).
 */
const PRINT_PIPE_SIZE_AFTER_INPUT = 'my $in = join "", <STDIN>; print STDERR fcntl(STDIN, 1032, 0), "\\n"; print $in';

const hasPerl = (() => {
  try {
    execFileSync('perl', ['-e', '1']);
    return true;
  } catch {
    return false;
  }
})();

/**
 * True when the kernel refuses this user a 1 MiB pipe right now: over fs.pipe-user-pages-soft
 * (64 MiB of pipe buffers, all the user's processes together). venv then runs with the
 * pipes as they are, which is what the product must do.
 */
function wideRefused(): boolean {
  const probe = 'print fcntl(STDIN, 1031, 1048576) ? "ok" : $!{EPERM} ? "refused" : "failed: $!"';
  const answer = execFileSync('sh', ['-c', `true | perl -e '${probe}'`], { encoding: 'utf8' });
  if (answer === 'refused') return true;
  assert.equal(answer, 'ok', 'a 1 MiB pipe, asked for directly');
  return false;
}

/** `expected` with 1 MiB pipes, unless the kernel refuses them now (then: skipped). */
function assertWide(t: TestContext, actual: string, expected: (size: string) => string): void {
  if (actual !== expected('1048576') && wideRefused()) {
    // A new pipe gets 64 KiB, or one page once the user is over the limit.
    assert.equal(actual.replace(/\d+/, 'N'), expected('N'), 'the pipe as it was, and the output intact');
    t.skip('this user is over fs.pipe-user-pages-soft: the kernel refuses 1 MiB pipes now');
    return;
  }
  assert.equal(actual, expected('1048576'));
}

describe('wide pipes', { skip: hasPerl ? false : 'no perl' }, () => {
  test('the program runs with 1 MiB pipes on both sides, and its output is intact', (t) => {
    const between = (script: string, argv: string[]) =>
      execFileSync('sh', ['-c', `printf abc | "$@" 2>&1 | ${script}`, 'sh', ...argv], { encoding: 'utf8' });
    // Its stdin: the program itself asks.
    assertWide(t, between('cat', withWidePipes(['perl', '-e', PRINT_PIPE_SIZE])), (size) => `${size}\nabc`);
    // Its stdout: the next one in the pipeline asks.
    assertWide(
      t,
      between(`perl -e '${PRINT_PIPE_SIZE_AFTER_INPUT}' 2>&1`, withWidePipes(['cat'])),
      (size) => `${size}\nabc`,
    );
  });

  test("a program's failure to start is a one-line error and a failed status", () => {
    assert.throws(
      () =>
        execFileSync(
          withWidePipes(['venv-no-such-program'])[0] as string,
          withWidePipes(['venv-no-such-program']).slice(1),
          { stdio: 'pipe' },
        ),
      (error: Error & { stderr: Buffer }) => /^venv: cannot run venv-no-such-program: /.test(error.stderr.toString()),
    );
  });

  test("tar's --use-compress-program takes the quoted command line as it is meant", (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'venv-wide-'));
    try {
      writeFileSync(join(dir, 'f'), 'hello');
      const program = commandLine(withWidePipes(['perl', '-e', PRINT_PIPE_SIZE]));
      const result = execFileSync(
        'sh',
        [
          '-c',
          'tar -C "$1" --use-compress-program="$2" -cf - f 2>"$1/err" | tar -xOf - f; cat "$1/err"',
          'sh',
          dir,
          program,
        ],
        { encoding: 'utf8' },
      );
      assertWide(t, result, (size) => `hello${size}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('commandLine leaves plain words alone and refuses what it cannot quote', () => {
    assert.equal(commandLine(['/usr/bin/zstd', '-T0', '-q', '-c']), '/usr/bin/zstd -T0 -q -c');
    assert.equal(commandLine(['perl', '-e', 'print "$x"']), `perl -e 'print "$x"'`);
    assert.throws(() => commandLine(["it's"]), /cannot quote/);
  });
});
