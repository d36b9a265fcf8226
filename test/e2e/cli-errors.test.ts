// One error format for everything: commander's parse errors, errors of the system, a
// closed stdout, a VENV_HOME venv may not make, `commit -o` to a directory or to a place
// the user cannot write. Each is one line `venv: error: ...`, one `hint: ...`, exit 125.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { execa } from 'execa';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { VENV_BIN, venv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('clierrors');
const work = skipReason ? '/nonexistent' : mkdtempSync('/tmp/venv-test-clierrors-');
after(() => rmSync(work, { recursive: true, force: true }));

const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;

/** `venv ARGS | READER` in bash with pipefail: venv's status, if the reader's is 0. */
async function piped(args: string, reader: string) {
  const result = await execa('bash', ['-c', `set -o pipefail; "$0" ${args} | ${reader}`, VENV_BIN], {
    env: { ...process.env, VENV_HOME: e2e.home },
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

describe("commander's parse errors in venv's format", () => {
  // No kernel feature needed: the parser fails before anything else.
  const home = '/nonexistent-venv-home';
  for (const [args, message, hint] of [
    [
      ['creat', 'x'],
      /^venv: error: unknown command 'creat'\n/,
      /^hint: did you mean "venv create"\? run "venv --help"/m,
    ],
    [['create', '--bogus', 'x'], /^venv: error: unknown option '--bogus'\n/, /^hint: run "venv create --help"/m],
    [
      ['list', '--jsn'],
      /^venv: error: unknown option '--jsn'\n/,
      /^hint: did you mean --json\? run "venv list --help"/m,
    ],
    [['create'], /^venv: error: missing required argument 'name'\n/, /^hint: run "venv create --help"/m],
    [['snapshot'], /^venv: error: missing required argument 'name'\n/, /^hint: run "venv snapshot --help"/m],
    [
      ['snapshot', 'rm', 'x'],
      /^venv: error: missing required argument 'tag'\n/,
      /^hint: run "venv snapshot rm --help"/m,
    ],
    [['create', 'a', 'b'], /^venv: error: too many arguments for 'create'/, /^hint: run "venv create --help"/m],
    [
      ['commit', 'x', '--compress'],
      /^venv: error: option '--compress <kind>' argument missing\n/,
      /venv commit --help/,
    ],
  ] as const) {
    test(`venv ${args.join(' ')}`, async () => {
      const result = await venv(home, args);
      assert.equal(result.exitCode, 125);
      assert.match(result.stderr, ONE_ERROR);
      assert.match(result.stderr, message);
      assert.match(result.stderr, hint);
      assert.equal(result.stdout, '');
    });
  }
});

describe('help', () => {
  const home = '/nonexistent-venv-home';
  test('venv help --help exits 0 and shows the help command itself', async () => {
    const result = await venv(home, ['help', '--help']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^Usage: venv help /);
  });

  test('venv help CMD SUB shows the subcommand', async () => {
    const result = await venv(home, ['help', 'snapshot', 'rm']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^Usage: venv snapshot rm .*<name> <tag>/);
    assert.deepEqual(await venv(home, ['snapshot', 'rm', '--help']), { ...result });
  });

  test('venv help of no such command: one error line', async () => {
    const result = await venv(home, ['help', 'snapshot', 'nope']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, ONE_ERROR);
    assert.match(result.stderr, /no command "snapshot nope"\nhint: run "venv snapshot --help"/);
  });
});

describe('a closed stdout ends venv quietly, status 0', { skip: skipReason }, () => {
  test('venv help run | a reader that left at once', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await piped('help run', 'true');
      assert.deepEqual([result.exitCode, result.stderr], [0, '']);
    }
    const result = await piped('help run', 'head -3');
    assert.deepEqual([result.exitCode, result.stderr], [0, '']);
    assert.match(result.stdout, /^Usage: venv run /);
    assert.equal(result.stdout.split('\n').length, 4);
  });

  test('commit -o -, diff, diff --json, list --json into a reader that leaves early', async () => {
    await e2e.create('big');
    const long = 'x'.repeat(100);
    const made = await e2e.venv([
      'run',
      'big',
      '--',
      'sh',
      '-c',
      `head -c 2M /dev/urandom > /opt/blob && mkdir /opt/d && cd /opt/d && for i in $(seq 2000); do : > ${long}$i; done`,
    ]);
    assert.equal(made.exitCode, 0, made.stderr);
    // An archive on stdout whose reader leaves after 100 bytes: the commit ends, quietly
    // (the leak check after the test shows that its tar and compressor went with it).
    const archive = await piped('commit big -o -', 'head -c 100 | wc -c');
    assert.deepEqual([archive.exitCode, archive.stderr, archive.stdout.trim()], [0, '', '100']);
    for (const args of ['diff big', 'diff --json big', 'list --json']) {
      const result = await piped(args, 'head -1');
      assert.deepEqual([result.exitCode, result.stderr], [0, ''], args);
      assert.equal(result.stdout.split('\n').length, 2, args);
    }
  });
});

describe('a stdout that cannot be written', () => {
  test('> /dev/full: one line, exit 125', async () => {
    for (const args of ['--version', 'help run', 'completion bash']) {
      const result = await execa('sh', ['-c', `"$0" ${args} > /dev/full`, VENV_BIN], {
        env: { ...process.env, VENV_HOME: '/nonexistent-venv-home' },
        reject: false,
        stdin: 'ignore',
      });
      assert.equal(result.exitCode, 125, args);
      assert.equal(
        result.stderr,
        'venv: error: cannot write the output: no space left on the device\nhint: what was written is incomplete',
        args,
      );
    }
  });
});

describe('errors of the system have a line and a hint', { skip: skipReason }, () => {
  test('VENV_HOME where the user may not make it: refused before anything, doctor says so', async () => {
    const result = await venv('/etc/venv-home-of-nobody', ['create', 'x']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, ONE_ERROR);
    assert.match(
      result.stderr,
      /^venv: error: VENV_HOME cannot be used: \/etc\/venv-home-of-nobody does not exist, and you may not create it in \/etc\n/,
    );
    assert.match(result.stderr, /^hint: choose a VENV_HOME of yours/m);
    assert.equal(existsSync('/etc/venv-home-of-nobody'), false);
    const doctor = await venv('/etc/venv-home-of-nobody', ['doctor']);
    assert.equal(doctor.exitCode, 125);
    assert.match(doctor.stdout, /FAIL +VENV_HOME: .*you may not create it/);
  });

  test('commit -o DIR writes DIR/NAME.tar.zst', async () => {
    await e2e.create('out');
    const dir = mkdtempSync(`${work}/out-`);
    for (const output of [dir, `${dir}/`]) {
      const result = await e2e.venv(['commit', 'out', '-o', output]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`  ${dir}/out\\.tar\\.zst  `));
      assert.deepEqual(readdirSync(dir), ['out.tar.zst']);
    }
    const gz = await e2e.venv(['commit', 'out', '-o', dir, '--compress', 'gzip']);
    assert.equal(gz.exitCode, 0, gz.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['out.tar.gz', 'out.tar.zst']);
  });

  test('commit -o to a place the user cannot write: refused before any work, nothing written', async () => {
    await e2e.create('nowhere');
    mkdirSync(`${work}/has-dir/nowhere.tar.zst`, { recursive: true });
    for (const [output, message] of [
      ['/etc', /cannot write \/etc\/nowhere\.tar\.zst: you may not write in \/etc$/m],
      ['/etc/x.tar.zst', /cannot write \/etc\/x\.tar\.zst: you may not write in \/etc$/m],
      [`${work}/missing/`, /cannot write into .*\/missing: no such directory$/m],
      [`${work}/missing/x.tar.zst`, /cannot write .*\/missing\/x\.tar\.zst: no directory .*\/missing$/m],
      [`${work}/has-dir`, /cannot write .*\/has-dir\/nowhere\.tar\.zst: it exists and is not a regular file$/m],
    ] as const) {
      const result = await e2e.venv(['commit', 'nowhere', '-o', output]);
      assert.equal(result.exitCode, 125, output);
      assert.match(result.stderr, ONE_ERROR);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^hint: choose a place you can write \(-o FILE or -o DIR\), or -o - for stdout$/m);
    }
    assert.equal(existsSync(`${work}/missing`), false);
    assert.deepEqual(readdirSync(`${work}/has-dir/nowhere.tar.zst`), []);
  });
});
