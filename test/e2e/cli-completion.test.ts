// `venv completion bash|zsh|fish` and venv(1). The completions are exercised by the shells
// themselves: bash through COMP_WORDS and the completion function it registered, fish by
// `complete -C`, zsh through the core the function calls (zsh's completion system itself
// needs a terminal). Env names and snapshot tags come from the store, read by the shell
// (no node start-up per Tab: these run with an empty PATH). The man page is rendered by
// man(1) and must hold every command, option and example that --help shows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { venv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('completion');
const work = skipReason ? '/nonexistent' : mkdtempSync('/tmp/venv-test-completion-');
after(() => rmSync(work, { recursive: true, force: true }));
const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;

/** Runs `shell -c script` with VENV_HOME set; its stdout (fails the test on a failure). */
function inShell(shell: string, script: string, env: Record<string, string> = {}, timeout = 30_000): string {
  const result = spawnSync(shell, ['-c', script], {
    env: { ...process.env, VENV_HOME: e2e.home, ...env },
    encoding: 'utf8',
    timeout,
  });
  assert.equal(result.status, 0, `${shell}: ${result.stderr}`);
  return result.stdout;
}

async function scriptFor(shell: string): Promise<string> {
  const result = await e2e.venv(['completion', shell]);
  assert.equal(result.exitCode, 0, result.stderr);
  const file = `${work}/venv.${shell}`;
  writeFileSync(file, result.stdout);
  return file;
}

/** word lists typed after "venv" (the last one being completed) and what must be offered. */
const STORE_CASES: [words: string[], expected: string[]][] = [
  [
    ['rm', ''],
    ['alpha', 'beta'],
  ],
  [['rm', 'al'], ['alpha']],
  [
    ['rm', '-y', 'alpha', ''],
    ['alpha', 'beta'],
  ],
  [['rollback', 'alpha', ''], ['base']],
  [['rollback', '--force', 'alpha', ''], ['base']],
  [['snapshot', 'rm', 'alpha', ''], ['base']],
  [
    ['snapshot', ''],
    ['alpha', 'beta'],
  ],
  [
    ['commit', 'alpha', '--compress', ''],
    ['gzip', 'none', 'zstd'],
  ],
  [
    ['create', '--backend', ''],
    ['fuse-overlayfs', 'overlay'],
  ],
  [
    ['rm', '-'],
    ['--force', '--help', '--quiet', '--yes', '-f', '-h', '-q', '-y'],
  ],
  [['help', 'snapshot', ''], ['rm']],
  [['create', ''], []],
];

describe('shell completions', { skip: skipReason }, () => {
  before(async () => {
    await e2e.create('alpha');
    await e2e.create('beta');
    assert.equal((await e2e.venv(['snapshot', 'alpha', 'base'])).exitCode, 0);
  });

  test('bash: commands, options, env names, snapshot tags, option values; files and commands', async () => {
    const file = await scriptFor('bash');
    const complete = (words: string[], path = '') => {
      const quoted = ['venv', ...words].map((w) => `'${w}'`).join(' ');
      const out = inShell(
        'bash',
        `source '${file}'; PATH='${path}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _venv; printf '%s\\n' "\${COMPREPLY[@]}"`,
      );
      return out.split('\n').filter(Boolean).sort();
    };
    assert.match(inShell('bash', `source '${file}'; complete -p venv`), /complete -F _venv venv/);
    const commands = complete(['']);
    for (const command of ['create', 'rm', 'snapshot', 'snapshots', 'rollback', 'completion', 'help', 'ls']) {
      assert.ok(commands.includes(command), `${command} in ${commands.join(' ')}`);
    }
    assert.deepEqual(complete(['cr']), ['create']);
    assert.deepEqual(complete(['sn']), ['snapshot', 'snapshots']);
    for (const [words, expected] of STORE_CASES) assert.deepEqual(complete(words), expected, words.join(' '));
    // The shell's own completions, with a PATH to find commands on.
    const path = process.env.PATH ?? '/usr/bin:/bin';
    assert.ok(complete(['run', 'alpha', '--', 'ech'], path).includes('echo'));
    assert.ok(complete(['run', 'alpha', 'ech'], path).includes('echo'));
    assert.deepEqual(complete(['run', 'alpha', 'ls', '/et'], path), ['/etc']);
    assert.deepEqual(complete(['restore', '/et'], path), ['/etc']);
    assert.deepEqual(complete(['commit', 'alpha', '-o', '/et'], path), ['/etc']);
  });

  test(
    'zsh: the same candidates from the core, under zsh',
    { skip: has('zsh') ? false : 'zsh is not installed' },
    async () => {
      const file = await scriptFor('zsh');
      assert.equal(inShell('zsh', `source '${file}'; whence -w _venv`), '_venv: function\n');
      for (const [words, expected] of STORE_CASES) {
        const args = words.map((w) => `'${w}'`);
        const current = args.pop();
        const out = inShell('zsh', `source '${file}'; PATH=''; __venv_candidates ${current} ${args.join(' ')}`);
        // compadd keeps those that start with what was typed, as bash's wrapper does.
        const typed = words.at(-1) ?? '';
        const offered = out.split('\n').filter((c) => c !== '' && c.startsWith(typed));
        assert.deepEqual(offered.sort(), expected, words.join(' '));
      }
      // And Tab itself, in an interactive zsh on a pseudo-terminal (zpty), with compinit.
      const driver = `${work}/tab.zsh`;
      writeFileSync(
        driver,
        [
          'zmodload zsh/zpty',
          // Reads what the shell wrote until it holds PATTERN, for at most 20 s each (the call allows 50 s): fixed sleeps
          // failed on a loaded machine, where compinit alone can take seconds.
          'wait_for() { local i; for i in {1..200}; do',
          '  while zpty -r -t z chunk; do out+=$chunk; done',
          '  [[ $out == $~1 ]] && return; sleep 0.1; done; }',
          "zpty z 'zsh -f -i'",
          // The echo of this line shows READY-$((6*7)); only its output shows READY-42.
          `zpty -w z 'PS1="> "; autoload -U compinit; compinit -u -D; source ${file}; print READY-$((6*7))'`,
          "out=; wait_for '*READY-42*'",
          "out=; zpty -w -n z $'venv rollback al\\t'",
          "wait_for '*pha *'",
          'print -r -- "$out"',
          'zpty -d z',
        ].join('\n'),
      );
      const output = inShell('zsh', `zsh -f ${driver}`, { HOME: work }, 50_000);
      // eslint-disable-next-line no-control-regex -- the terminal's escape sequences are removed
      const screen = output.replace(/\x1b\[[0-9;?]*[a-zA-Z]|\r/g, '');
      assert.match(screen, /venv rollback alpha /);
    },
  );

  test('fish: complete -C offers them', { skip: has('fish') ? false : 'fish is not installed' }, async () => {
    const file = await scriptFor('fish');
    for (const [words, expected] of STORE_CASES) {
      const line = ['venv', ...words].join(' ');
      const out = inShell('fish', `source '${file}'; complete -C '${line}'`, { HOME: work });
      // fish prints "candidate<TAB>description"; option candidates may come with fish's own.
      const offered = out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0] ?? '')
        .sort();
      assert.deepEqual(offered, expected, line);
    }
  });

  test('an unknown shell: one error line', async () => {
    const result = await e2e.venv(['completion', 'tcsh']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /^venv: error: no completion for shell "tcsh": expected bash, zsh, fish\nhint: /);
  });
});

describe('the man page', () => {
  const page = fileURLToPath(new URL('../../man/venv.1', import.meta.url));
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
    man: string[];
    files: string[];
  };

  test('package.json installs it', () => {
    assert.deepEqual(pkg.man, ['./dist/man/venv.1']);
    assert.ok(pkg.files.includes('dist/man'));
    assert.ok(existsSync(page), 'npm run build makes dist/man/venv.1');
  });

  test(
    'man -l renders it without warnings, with every command, option and example of --help',
    { skip: has('man') ? false : 'man-db is not installed' },
    async () => {
      const rendered = spawnSync('man', ['--warnings', '-l', page], {
        env: { ...process.env, MANWIDTH: '200', MAN_KEEP_FORMATTING: '', PAGER: 'cat' },
        encoding: 'utf8',
      });
      assert.equal(rendered.status, 0, rendered.stderr);
      assert.equal(rendered.stderr, '');
      // Plain text: no overstriking, hyphens as typed.
      // eslint-disable-next-line no-control-regex -- backspaces are what overstriking is made of
      const text = rendered.stdout.replace(/.\x08/g, '').replace(/\u2010/g, '-');
      assert.match(text, /^NAME\n +venv - A virtualenv for the whole system/m);
      for (const section of ['SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXIT STATUS', 'ENVIRONMENT']) {
        assert.match(text, new RegExp(`^${section}$`, 'm'));
      }
      const home = '/nonexistent-venv-home';
      const top = (await venv(home, ['--help'])).stdout;
      const names = [
        ...top
          .split('\nCommands:\n')[1]!
          .split('\n\n')[0]!
          .matchAll(/^ {2}([a-z-]+)/gm),
      ].map((m) => m[1]!);
      assert.ok(names.length >= 15);
      for (const name of [...names, 'snapshot rm']) {
        assert.match(text, new RegExp(`^ {3}venv ${name}$`, 'm'), `a section for venv ${name}`);
        const help = (await venv(home, [...name.split(' '), '--help'])).stdout;
        for (const flag of help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)) {
          assert.ok(text.includes(flag[1]!), `venv ${name}: ${flag[1]} in the man page`);
        }
        for (const example of help.matchAll(/^ {2}\$ (venv .*)$/gm)) {
          assert.ok(text.includes(example[1]!.trim()), `venv ${name}: example "${example[1]}" in the man page`);
        }
      }
    },
  );
});
