// venv shell (with commands fed on stdin, no terminal), doctor, --help and --version.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { venv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('shell');
const COMMANDS = ['create', 'shell', 'run', 'list', 'rm', 'doctor'];

describe('venv shell', { skip: skipReason }, () => {
  for (const shell of ['/bin/bash', '/bin/sh']) {
    test(`creates a missing env and runs the commands it is fed (SHELL=${shell})`, async () => {
      const name = `sh-${shell.slice(5)}`;
      const input = 'echo "in $VENV_NAME as $(id -u)"; echo x >> /etc/venv-shell-test; exit 4\n';
      const first = await e2e.venv(['shell', name], { input, env: { SHELL: shell } });
      assert.equal(first.exitCode, 4, first.stderr);
      assert.equal(first.stdout, `in ${name} as 0\n`);
      assert.match(first.stderr, new RegExp(`venv: created env "${name}"`));
      // An interactive shell prints its prompt on stderr; it names the env.
      assert.ok(first.stderr.includes(`(${name}) `), first.stderr);
      assert.equal(existsSync(`${e2e.envDir(name)}/env.json`), true);

      // The second time the env exists (bin/venv's fast path), and keeps the change.
      const second = await e2e.venv(['shell', name], { input: 'cat /etc/venv-shell-test\n', env: { SHELL: shell } });
      assert.equal(second.exitCode, 0, second.stderr);
      assert.equal(second.stdout, 'x\n');
      assert.doesNotMatch(second.stderr, /created env/);
      assert.equal(existsSync('/etc/venv-shell-test'), false);
    });
  }

  test('exits with the status of the last command at end of input', async () => {
    const result = await e2e.venv(['shell', 'sh-eof'], { input: 'false\n', env: { SHELL: '/bin/sh' } });
    assert.equal(result.exitCode, 1);
  });
});

describe('venv doctor, --help, --version', { skip: skipReason }, () => {
  test('doctor: this machine can run envs', async () => {
    const result = await e2e.venv(['doctor']);
    assert.equal(result.exitCode, 0, result.stdout);
    for (const check of ['user namespaces', 'fuse-overlayfs', '/dev/fuse', 'unshare', 'nsenter']) {
      assert.match(result.stdout, new RegExp(`^ok +${check}: `, 'm'));
    }
    assert.match(result.stdout, new RegExp(`envs live in ${e2e.home}\n`));
    assert.match(result.stdout, /this machine can run envs\n$/);
    const json = JSON.parse((await e2e.venv(['doctor', '--json'])).stdout) as { ok: boolean; venvHome: string };
    assert.equal(json.ok, true);
    assert.equal(json.venvHome, e2e.home);
  });
});

describe('--help and --version', () => {
  // These need no kernel feature: they run everywhere, as any user.
  const home = '/nonexistent-venv-home';
  test('--help lists every command', async () => {
    const result = await venv(home, ['--help']);
    assert.equal(result.exitCode, 0);
    for (const command of COMMANDS) assert.match(result.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  for (const command of COMMANDS) {
    test(`venv ${command} --help shows examples`, async () => {
      const result = await venv(home, [command, '--help']);
      assert.equal(result.exitCode, 0);
      assert.match(result.stdout, /\nExamples:\n/);
      assert.match(result.stdout, new RegExp(`\\n  \\$ venv ${command}\\b`));
    });
  }

  test('--version prints the package version', async () => {
    const pkg = fileURLToPath(new URL('../../../package.json', import.meta.url));
    const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await venv(home, [flag]);
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdout, `${version}\n`);
    }
  });

  test('an unknown command fails with 125', async () => {
    const result = await venv(home, ['frobnicate']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });
});
