// `venv run` behaves like running the command on the host: exact argv, the caller's
// directory and environment, and the exit status conventions of env(1).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { makeSharedDir } from '../helpers/venv-home.js';

const e2e = e2eSetup('fidelity');
const ENV = 'fid';

describe('what the command gets', { skip: skipReason }, () => {
  const made: string[] = [];
  before(() => e2e.create(ENV));
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  for (const viaNode of [false, true]) {
    test(`argv is passed exactly (${viaNode ? 'node' : 'sh fast'} path)`, async () => {
      const result = await e2e.venv(['run', ENV, '--', 'printf', '%s|', 'a b', "c'd", '', '$HOME', '*', '-n'], {
        viaNode,
      });
      assert.equal(result.stdout, "a b|c'd||$HOME|*|-n|");
      assert.equal(result.exitCode, 0);
    });
  }

  test('the command runs as uid 0 with VENV_NAME set and sbin on PATH', async () => {
    const result = await e2e.venv(['run', ENV, '--', 'sh', '-c', 'id -u; id -g; echo "$VENV_NAME"; echo "$PATH"'], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    });
    const [uid, gid, name, path] = result.stdout.split('\n');
    assert.equal(uid, '0');
    assert.equal(gid, '0');
    assert.equal(name, ENV);
    assert.ok(path?.startsWith('/usr/local/bin:/usr/bin:/bin'), `the caller's PATH comes first: ${path}`);
    assert.ok(path?.split(':').includes('/usr/sbin') && path.split(':').includes('/sbin'), path);
  });

  for (const viaNode of [false, true]) {
    test(`stdin, stdout and stderr are the caller's (${viaNode ? 'node' : 'sh fast'} path)`, async () => {
      const big = `${'0123456789abcdef'.repeat(64 * 1024)}\n`;
      const piped = await e2e.venv(['run', ENV, '--', 'cat'], { viaNode, input: big });
      assert.equal(piped.stdout.length, big.length);
      assert.equal(piped.stdout, big);
      const split = await e2e.venv(
        ['run', ENV, '--', 'sh', '-c', 'read -r line; echo "out $line"; echo "err $line" >&2'],
        {
          viaNode,
          input: 'hello\n',
        },
      );
      assert.equal(split.stdout, 'out hello\n');
      assert.equal(split.stderr, 'err hello\n');
    });
  }

  test("the caller's environment variables are passed", async () => {
    const result = await e2e.venv(['run', ENV, '--', 'sh', '-c', 'printf "%s|%s" "$VENV_TEST_A" "$VENV_TEST_B"'], {
      env: { VENV_TEST_A: 'x y\nz', VENV_TEST_B: "'quoted'" },
    });
    assert.equal(result.stdout, "x y\nz|'quoted'");
  });

  test('cwd: a directory under the home is kept', async (t) => {
    if (!homedir().startsWith('/home/')) return t.skip(`the test user's home ${homedir()} is not under /home`);
    const dir = makeSharedDir(homedir(), 'cwd');
    made.push(dir);
    const result = await e2e.venv(['run', ENV, '--', 'sh', '-c', 'pwd; echo hi > here.txt'], { cwd: dir });
    assert.equal(result.stdout, `${dir}\n`);
    assert.deepEqual(readdirSync(dir), ['here.txt']);
  });

  test("cwd: a directory in the overlay (/etc) is the env's", async () => {
    const result = await e2e.venv(['run', ENV, '--', 'sh', '-c', 'pwd; echo x > ./venv-test-cwd-file'], {
      cwd: '/etc',
    });
    assert.equal(result.stdout, '/etc\n');
    assert.equal(result.exitCode, 0);
    assert.equal(existsSync('/etc/venv-test-cwd-file'), false);
    const check = await e2e.venv(['run', ENV, '--', 'cat', '/etc/venv-test-cwd-file']);
    assert.equal(check.stdout, 'x\n');
  });

  test('cwd: a host directory the env has deleted falls back to /', async (t) => {
    const empty = ['/srv', '/media', '/mnt', '/opt'].find((d) => existsSync(d) && readdirSync(d).length === 0);
    if (!empty) return t.skip('no empty top-level directory on this host to delete in the env');
    const removed = await e2e.venv(['run', ENV, '--', 'rmdir', empty]);
    assert.equal(removed.exitCode, 0, removed.stderr);
    const result = await e2e.venv(['run', ENV, '--', 'pwd'], { cwd: empty });
    assert.equal(result.stdout, '/\n');
    assert.equal(result.exitCode, 0);
    assert.equal(existsSync(empty), true, 'the host keeps it');
  });
});

describe('exit status', { skip: skipReason }, () => {
  const made: string[] = [];
  before(() => (existsSync(e2e.envDir(ENV)) ? undefined : e2e.create(ENV)));
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  test("the command's own status: 0 and 3", async () => {
    assert.equal((await e2e.venv(['run', ENV, '--', 'true'])).exitCode, 0);
    assert.equal((await e2e.venv(['run', ENV, '--', 'sh', '-c', 'exit 3'])).exitCode, 3);
    assert.equal((await e2e.venv(['run', ENV, '--', 'sh', '-c', 'exit 3'], { viaNode: true })).exitCode, 3);
  });

  test('a command that cannot be executed: 126', async () => {
    const dir = makeSharedDir('/tmp', 'noexec');
    made.push(dir);
    writeFileSync(`${dir}/script`, '#!/bin/sh\necho ran\n');
    chmodSync(`${dir}/script`, 0o644);
    mkdirSync(`${dir}/subdir`);
    for (const target of [`${dir}/script`, `${dir}/subdir`]) {
      const result = await e2e.venv(['run', ENV, '--', target]);
      assert.equal(result.exitCode, 126, `${target}: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
  });

  test('a command not found: 127, with a message', async () => {
    for (const viaNode of [false, true]) {
      const result = await e2e.venv(['run', ENV, '--', 'venv-test-no-such-command', 'arg'], { viaNode });
      assert.equal(result.exitCode, 127);
      assert.match(result.stderr, /not found.*venv-test-no-such-command/);
    }
    const path = await e2e.venv(['run', ENV, '--', '/nonexistent/cmd']);
    assert.equal(path.exitCode, 127);
  });

  test('a relative VENV_HOME works (the node path makes it absolute)', async () => {
    const relative = e2e.home.slice('/tmp/'.length);
    const result = await e2e.venv(['run', ENV, '--', 'sh', '-c', 'echo "$VENV_NAME"'], {
      cwd: '/tmp',
      env: { VENV_HOME: relative },
    });
    assert.equal(result.stdout, `${ENV}\n`, result.stderr);
    assert.equal(result.exitCode, 0);
  });

  test('a missing env: 125 with one error line and a hint', async () => {
    const result = await e2e.venv(['run', 'no-such-env', '--', 'true']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /^venv: error: no env named "no-such-env"[^\n]*\nhint: [^\n]+\n$/);
    assert.equal(existsSync(e2e.envDir('no-such-env')), false);
  });
});
