// "VENV_HOME is trusted wherever it is": a VENV_HOME that another local user can write, or
// that is theirs, or reached through their symlink, is refused with one line and a hint,
// on the fast path too (an env planted there must not run); `venv doctor` says so. A
// private directory under /tmp stays a valid VENV_HOME. The layouts another user made are
// prepared by scripts/run-tests.mjs as root (VENV_TEST_*_DIR, VENV_TEST_OTHER_*), since the
// tests cannot sudo; without them those tests skip.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { venv, type VenvResult } from '../helpers/venv-cli.js';

const e2e = e2eSetup('home-trust');
const fixtures = {
  shared: process.env.VENV_TEST_SHARED_DIR,
  sticky: process.env.VENV_TEST_STICKY_DIR,
  otherHome: process.env.VENV_TEST_OTHER_HOME,
  otherLink: process.env.VENV_TEST_OTHER_LINK,
};
const hostileSkip =
  skipReason ||
  (Object.values(fixtures).every(Boolean)
    ? false
    : 'needs layouts made by another user: run as root through scripts/run-tests.mjs with a user "venvother" (.ci/run makes it)');

function assertRefused(result: VenvResult, detail: RegExp): void {
  assert.equal(result.exitCode, 125, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 2, result.stderr);
  assert.match(lines[0] ?? '', /^venv: error: VENV_HOME is not safe to use: /);
  assert.match(lines[0] ?? '', detail);
  assert.match(lines[1] ?? '', /^hint: /);
}

describe('VENV_HOME must be the user’s own', { skip: hostileSkip }, () => {
  test('in a directory others can write and that is not sticky: refused, nothing made', async () => {
    const home = `${fixtures.shared}/home-${process.pid}`;
    assertRefused(await venv(home, ['create', 'x']), /can be written by others and is not sticky/);
    assert.equal(existsSync(home), false);
  });

  test("another user's VENV_HOME with an env planted in it: run (the fast path too) and list refuse", async () => {
    const home = fixtures.otherHome as string;
    for (const args of [['run', 'planted', '--', 'true'], ['shell', 'planted'], ['list']]) {
      assertRefused(await venv(home, args), /belongs to uid \d+, not to you/);
    }
  });

  test('a symlink another user planted, to a directory of theirs: refused', async () => {
    assertRefused(await venv(fixtures.otherLink as string, ['run', 'planted', '--', 'true']), /not to you/);
  });

  test("in a sticky directory, a private directory of the user's is fine", async () => {
    const home = mkdtempSync(`${fixtures.sticky}/mine-`);
    try {
      const created = await venv(home, ['create', 'ok']);
      assert.equal(created.exitCode, 0, created.stderr);
      const ran = await venv(home, ['run', 'ok', '--', 'true']);
      assert.equal(ran.exitCode, 0, ran.stderr);
      assert.equal((await venv(home, ['rm', 'ok'])).exitCode, 0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('doctor reports it as a check with the fix', async () => {
    const result = await venv(fixtures.otherHome as string, ['doctor']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stdout, /^FAIL {2}VENV_HOME: .*belongs to uid \d+, not to you\n {8}fix: /m);
  });
});

describe('VENV_HOME of the user but open to others', { skip: skipReason }, () => {
  const home = skipReason ? '/nonexistent' : mkdtempSync('/tmp/venv-test-open-home-');
  after(() => rmSync(home, { recursive: true, force: true }));

  test('a group-writable VENV_HOME or envs/: refused (the fast path too), doctor names the chmod', async () => {
    const created = await venv(home, ['create', 'e']);
    assert.equal(created.exitCode, 0, created.stderr);
    for (const dir of [home, `${home}/envs`]) {
      chmodSync(dir, 0o770);
      assertRefused(await venv(home, ['run', 'e', '--', 'true']), /can be written by group or others/);
      assertRefused(await venv(home, ['list']), /can be written by group or others/);
      const doctor = await venv(home, ['doctor']);
      assert.match(doctor.stdout, new RegExp(`^ {8}fix: chmod go-w ${dir}$`, 'm'));
      chmodSync(dir, 0o700);
    }
    assert.equal((await venv(home, ['run', 'e', '--', 'true'])).exitCode, 0);
  });

  test('a private VENV_HOME under /tmp is valid, and doctor says so', async () => {
    const doctor = await e2e.venv(['doctor']);
    assert.match(doctor.stdout, /^ok {4}VENV_HOME: /m);
    assert.deepEqual(readdirSync(e2e.home), []);
  });
});
