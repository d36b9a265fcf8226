// Commit and restore widen the pipes around zstd and the restore filter (wide-pipes.ts):
// checked with the real perl, sh and GNU tar, by asking the kernel the pipe's size.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { commandLine } from '../../src/archive/commit-tar-args.js';
import { withWidePipes } from '../../src/archive/wide-pipes.js';

/** perl that prints the size of its stdin pipe (F_GETPIPE_SZ) on stderr, then copies stdin. */
const PRINT_PIPE_SIZE = 'print STDERR fcntl(STDIN, 1032, 0), "\\n"; exec "cat"';

const hasPerl = (() => {
  try {
    execFileSync('perl', ['-e', '1']);
    return true;
  } catch {
    return false;
  }
})();

describe('wide pipes', { skip: hasPerl ? false : 'no perl' }, () => {
  test('the program runs with 1 MiB pipes on both sides, and its output is intact', () => {
    const between = (script: string, argv: string[]) =>
      execFileSync('sh', ['-c', `printf abc | "$@" 2>&1 | ${script}`, 'sh', ...argv], { encoding: 'utf8' });
    // Its stdin: the program itself asks.
    assert.equal(between('cat', withWidePipes(['perl', '-e', PRINT_PIPE_SIZE])), '1048576\nabc');
    // Its stdout: the next one in the pipeline asks.
    assert.equal(between(`perl -e '${PRINT_PIPE_SIZE}' 2>&1`, withWidePipes(['cat'])), '1048576\nabc');
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

  test("tar's --use-compress-program takes the quoted command line as it is meant", () => {
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
      assert.equal(result, 'hello1048576\n');
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
