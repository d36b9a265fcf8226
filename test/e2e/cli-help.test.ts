// The help is complete: every command and subcommand describes each of its arguments and
// shows each of its options at work in an example; `venv help CMD [SUB]` is the same text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { venv } from '../helpers/venv-cli.js';

// No kernel feature needed: these run everywhere, as any user.
const home = '/nonexistent-venv-home';

/** The entries of a help section ("Commands:", "Options:", "Arguments:"): their first words. */
function section(help: string, title: string): string[] {
  const body = help.split(`\n${title}\n`)[1]?.split('\n\n')[0] ?? '';
  return body
    .split('\n')
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.trim().split(/\s{2,}/)[0] ?? '');
}

async function help(words: string[]): Promise<string> {
  const result = await venv(home, [...words, '--help']);
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout;
}

/** Every command path: ["create"], ["snapshot"], ["snapshot", "rm"], ... */
async function commandPaths(): Promise<string[][]> {
  const paths: string[][] = [];
  for (const entry of section(await help([]), 'Commands:')) {
    const name = entry.split(/[ |]/)[0] ?? '';
    paths.push([name]);
    for (const sub of section(await help([name]), 'Commands:')) {
      const subName = sub.split(' ')[0] ?? '';
      if (subName !== 'help') paths.push([name, subName]);
    }
  }
  return paths;
}

describe('help is complete', () => {
  test('every command: arguments described, each option in an example, venv help CMD the same', async () => {
    const paths = await commandPaths();
    // Every gap at once, not the first.
    const gaps: string[] = [];
    const check = (ok: boolean, gap: string) => ok || gaps.push(gap);
    assert.ok(paths.length >= 15, JSON.stringify(paths));
    assert.ok(paths.some((p) => p.join(' ') === 'snapshot rm'));
    for (const path of paths) {
      const text = await help(path);
      const label = `venv ${path.join(' ')}`;
      const usage = /^Usage: (.*)$/m.exec(text)?.[1] ?? '';
      const examples = (text.split('\nExamples:\n')[1] ?? '').split('\n').filter((l) => l.startsWith('  $ venv '));
      check(examples.length > 0, `${label}: no examples`);
      assert.ok(
        examples.some((line) => line.startsWith(`  $ ${label}`)),
        `${label}: no example of it`,
      );
      const declared = [...usage.matchAll(/[<[]([a-z.]+)[\]>]/g)]
        .map((m) => (m[1] ?? '').replace(/\.\.\.$/, ''))
        .filter((word) => word !== 'options' && word !== 'command');
      const described = section(text, 'Arguments:');
      for (const argument of declared)
        assert.ok(described.includes(argument), `${label}: argument ${argument} not described`);
      for (const option of section(text, 'Options:')) {
        // --help and --quiet are on every command: the top-level help shows them at work.
        if (option.startsWith('-h, --help') || option.startsWith('-q, --quiet')) continue;
        const flags = option.split(/[ ,]+/).filter((word) => word.startsWith('-'));
        check(
          examples.some((line) => flags.some((flag) => new RegExp(` ${flag}(\\b|$| )`).test(line))),
          `${label}: no example uses ${option}`,
        );
      }
      const viaHelp = await venv(home, ['help', ...path]);
      check(viaHelp.stdout === text, `venv help ${path.join(' ')} differs from --help`);
    }
    assert.deepEqual(gaps, []);
  });

  test('every command takes -q, shown at work in the top-level help', async () => {
    for (const path of await commandPaths())
      assert.match(await help(path), /^ {2}-q, --quiet +print nothing but errors/m);
    assert.match(await help([]), /^ {2}\$ venv rm -q -y old +# -q \(--quiet\)/m);
  });

  test('venv snapshot --help shows NAME, TAG and --live', async () => {
    const text = await help(['snapshot']);
    assert.match(text, /^Usage: venv snapshot \[--live\] <name> \[tag\]/m);
    assert.match(text, /^ {2}--live +take it even while the env is in use/m);
    assert.match(text, /^ {2}rm \[options\] <name> <tag> +remove a snapshot/m);
  });
});
