// Destructive commands ask on a terminal (and only there; -y skips it), rm takes several
// names, --force says what it ended, and in-use reports and `venv list` show the user's
// processes only: not venv's own (the anchor's flock, the session shells).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv } from '../helpers/venv-cli.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';

const e2e = e2eSetup('cliconfirm');
const QUESTION = /\[y\/N\] /;
const terminalSkip = skipReason || (hasScript ? false : 'needs script(1) (bsdutils)');

interface Listed {
  name: string;
  inUse: boolean;
  processes: { pid: number; command: string }[];
}

async function processesIn(name: string, count: number): Promise<Listed['processes']> {
  for (let tries = 0; tries < 100; tries++) {
    const result = await e2e.venv(['list', '--json']);
    const env = (JSON.parse(result.stdout) as Listed[]).find((e) => e.name === name);
    if (env && env.processes.length >= count) return env.processes;
    await sleep(100);
  }
  throw new Error(`env "${name}" never had ${count} processes`);
}

describe('rm takes several names', { skip: skipReason }, () => {
  test('venv rm a b: both removed, no question without a terminal', async () => {
    await e2e.create('a');
    await e2e.create('b');
    const result = await e2e.venv(['rm', 'a', 'b']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, 'removed env "a"\nremoved env "b"\n');
    assert.equal(result.stderr, '');
    assert.equal(existsSync(e2e.envDir('a')) || existsSync(e2e.envDir('b')), false);
  });

  test('venv rm a missing b: a and b removed, the missing one reported, status 125', async () => {
    await e2e.create('a');
    await e2e.create('b');
    const result = await e2e.venv(['rm', 'a', 'missing', 'b']);
    assert.equal(result.exitCode, 125);
    assert.equal(result.stdout, 'removed env "a"\nremoved env "b"\n');
    assert.match(result.stderr, /^venv: error: no env named "missing"[^\n]*\nhint: [^\n]+\n$/);
    assert.equal(existsSync(e2e.envDir('a')) || existsSync(e2e.envDir('b')), false);
  });
});

describe('destructive commands ask on a terminal', { skip: terminalSkip }, () => {
  test('rm: "n" keeps the env, "y" removes it, -y does not ask', async () => {
    await e2e.create('asked');
    await e2e.venv(['snapshot', 'asked', 'one']);
    const no = onTerminal(e2e.home, ['rm', 'asked'], 'n\n');
    assert.match(no.screen, /remove env "asked" with all its changes and its snapshot\? \[y\/N\] /);
    assert.match(no.screen, /venv: error: not confirmed: nothing was changed/);
    assert.equal(no.status, 125);
    assert.equal(existsSync(e2e.envDir('asked')), true);
    const yes = onTerminal(e2e.home, ['rm', 'asked'], 'y\n');
    assert.equal(yes.status, 0, yes.screen);
    assert.match(yes.screen, /removed env "asked"/);
    assert.equal(existsSync(e2e.envDir('asked')), false);
    await e2e.create('asked');
    const skipped = onTerminal(e2e.home, ['rm', '-y', 'asked']);
    assert.equal(skipped.status, 0, skipped.screen);
    assert.doesNotMatch(skipped.screen, QUESTION);
    assert.equal(existsSync(e2e.envDir('asked')), false);
  });

  test('rm of a missing env: no question, the error', async () => {
    const result = onTerminal(e2e.home, ['rm', 'never-made']);
    assert.equal(result.status, 125);
    assert.doesNotMatch(result.screen, QUESTION);
    assert.match(result.screen, /no env named "never-made"/);
  });

  test('rollback: "n" keeps the changes, "y" rolls back', async () => {
    await e2e.create('back');
    await e2e.venv(['run', 'back', '--', 'sh', '-c', 'echo old > /etc/venv-confirm']);
    await e2e.venv(['snapshot', 'back', 'base']);
    await e2e.venv(['run', 'back', '--', 'sh', '-c', 'echo new > /etc/venv-confirm']);
    const no = onTerminal(e2e.home, ['rollback', 'back', 'base'], 'no\n');
    assert.match(no.screen, /put env "back" back to snapshot "base"\? What it changed since is lost\. \[y\/N\] /);
    assert.equal(no.status, 125);
    assert.equal((await e2e.venv(['run', 'back', '--', 'cat', '/etc/venv-confirm'])).stdout, 'new\n');
    const yes = onTerminal(e2e.home, ['rollback', 'back', 'base'], 'yes\n');
    assert.equal(yes.status, 0, yes.screen);
    assert.equal((await e2e.venv(['run', 'back', '--', 'cat', '/etc/venv-confirm'])).stdout, 'old\n');
    // Not on a terminal: as before, no question.
    const script = await e2e.venv(['rollback', 'back', 'base']);
    assert.equal(script.exitCode, 0, script.stderr);
  });

  test('restore --force: asks before replacing an existing env, not before making one', async () => {
    await e2e.create('src');
    await e2e.venv(['run', 'src', '--', 'sh', '-c', 'echo from-archive > /etc/venv-confirm']);
    const archive = `${e2e.home}/src.tar.zst`;
    assert.equal((await e2e.venv(['commit', 'src', '-o', archive])).exitCode, 0);
    await e2e.create('dst');
    const no = onTerminal(e2e.home, ['restore', '--force', archive, 'dst'], 'n\n');
    assert.match(no.screen, /replace all the changes of env "dst" with those of .*src\.tar\.zst\? \[y\/N\] /);
    assert.equal(no.status, 125);
    assert.equal((await e2e.venv(['run', 'dst', '--', 'cat', '/etc/venv-confirm'])).exitCode, 1);
    const fresh = onTerminal(e2e.home, ['restore', '--force', archive, 'fresh']);
    assert.equal(fresh.status, 0, fresh.screen);
    assert.doesNotMatch(fresh.screen, QUESTION);
    const yes = onTerminal(e2e.home, ['restore', '--force', archive, 'dst'], 'y\n');
    assert.equal(yes.status, 0, yes.screen);
    assert.equal((await e2e.venv(['run', 'dst', '--', 'cat', '/etc/venv-confirm'])).stdout, 'from-archive\n');
  });
});

describe("in use: the user's processes only", { skip: skipReason }, () => {
  test('list counts only the commands run; rm refuses naming them; --force says what it ended', async () => {
    await e2e.create('busy');
    const one = spawnVenv(e2e.home, ['run', 'busy', '--', 'sleep', '300']);
    // The other way in (nsenter, chroot and venv's own sh, where venv-enter was not built):
    // that sh is venv's too, and not counted.
    const two = spawnVenv(e2e.home, ['run', 'busy', '--', 'sh', '-c', 'sleep 301; true'], {
      env: { VENV_ENTER: 'nsenter' },
    });
    const processes = await processesIn('busy', 3);
    assert.deepEqual(processes.map((p) => p.command).sort(), ['sh -c sleep 301; true', 'sleep 300', 'sleep 301']);
    const table = await e2e.venv(['list']);
    assert.match(table.stdout, /^busy .+ yes \(3 processes\) /m);

    const refused = await e2e.venv(['rm', 'busy']);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, /^venv: error: env "busy" is in use: \d+ [^\n]+\nhint: [^\n]+\n$/);
    for (const p of processes) assert.ok(refused.stderr.includes(`${p.pid} ${p.command}`), refused.stderr);
    assert.doesNotMatch(refused.stderr, /flock|venv \/|command not found/);

    if (hasScript) {
      // On a terminal: no question when rm would refuse anyway; with --force the question
      // names what would be ended, and "n" ends nothing.
      const busy = onTerminal(e2e.home, ['rm', 'busy']);
      assert.doesNotMatch(busy.screen, QUESTION);
      assert.match(busy.screen, /venv: error: env "busy" is in use/);
      const no = onTerminal(e2e.home, ['rm', '--force', 'busy'], 'n\n');
      assert.match(
        no.screen,
        /remove env "busy" with all its changes; it is in use, and its 3 processes \(\d+ .*\) will be ended\? \[y\/N\] /,
      );
      assert.equal(no.status, 125);
      assert.equal((await processesIn('busy', 3)).length, 3);
    }
    const forced = await e2e.venv(['rm', '--force', 'busy']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.match(forced.stderr, /^venv: ended 3 processes in env "busy": \d+ [^\n]+\n$/);
    for (const command of ['sleep 300', 'sleep 301', 'sh -c sleep 301; true'])
      assert.ok(forced.stderr.includes(command));
    assert.equal(forced.stdout, 'removed env "busy"\n');
    await Promise.all([one, two]);
  });

  test('rollback --force says what it ended', async () => {
    await e2e.create('busy2');
    await e2e.venv(['snapshot', 'busy2', 'base']);
    const session = spawnVenv(e2e.home, ['run', 'busy2', '--', 'sleep', '302']);
    await processesIn('busy2', 1);
    const forced = await e2e.venv(['rollback', '--force', 'busy2', 'base']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.match(forced.stderr, /^venv: ended 1 process in env "busy2": \d+ sleep 302\n$/);
    await session;
  });
});
