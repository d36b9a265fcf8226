// Users and homes in an env: /home is the env's (the overlay's), with the caller's own home
// bound in (mount-plan.ts), so `useradd -m` makes a home in the env, su and runuser switch
// to the new user, and `userdel -r` takes it away again; the host never sees any of it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { describe, test } from 'node:test';
import { e2eSetup, envMapping, hasSubordinateIds, skipReason } from '../helpers/e2e.js';

const e2e = e2eSetup('users');
// fuse-overlayfs shows every file as root's (squash_to_root): a user other than root
// cannot write its own home there (README, Limits).
const ownershipShown = process.env.VENV_BACKEND !== 'fuse-overlayfs';

async function inEnv(name: string, script: string): Promise<string> {
  if (!existsSync(e2e.envDir(name))) await e2e.create(name);
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${script}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe('users and homes in an env', { skip: skipReason || (!hasSubordinateIds && 'no subordinate ids') }, () => {
  test('useradd -m makes a home in the env; su and runuser switch to the user; the host has none of it', async () => {
    const out = await inEnv(
      'users',
      'useradd -m -s /bin/sh venvbob && stat -c "%U %a" /home/venvbob && su - venvbob -c "id -un; pwd" && runuser -u venvbob -- id -un',
    );
    assert.equal(out, `${ownershipShown ? 'venvbob' : 'root'} 755\nvenvbob\n/home/venvbob\nvenvbob\n`);
    assert.equal(existsSync('/home/venvbob'), false, 'the host has no such home');
    assert.doesNotMatch(readFileSync('/etc/passwd', 'utf8'), /^venvbob:/m);
    assert.equal(existsSync(`${e2e.envDir('users')}/upper/home/venvbob/.profile`), true, "the home is the env's");
  });

  test('the new user writes its home as itself; userdel -r removes user and home', async (t) => {
    if (!ownershipShown) return t.skip("fuse-overlayfs shows every file as root's: the user cannot write its home");
    const out = await inEnv(
      'users',
      'su - venvbob -c "echo mine > ~/note" && stat -c "%U" /home/venvbob/note && userdel -r venvbob 2>/dev/null; test -e /home/venvbob || echo gone; id venvbob 2>/dev/null || echo no-user',
    );
    assert.equal(out, 'venvbob\ngone\nno-user\n');
    assert.equal(existsSync(`${e2e.envDir('users')}/upper/home/venvbob`), false);
  });

  test("the caller's own home stays the host's, read-write and live", async (t) => {
    if (!homedir().startsWith('/home/')) return t.skip(`the test user's home ${homedir()} is not under /home`);
    const file = `${homedir()}/venv-users-test-${process.pid}`;
    try {
      const out = await inEnv('users', `echo from-env > ${file}; ls -d /home/* | grep -c .`);
      assert.ok(Number(out) >= 1);
      assert.equal(readFileSync(file, 'utf8'), 'from-env\n');
      writeFileSync(file, 'from-host\n');
      assert.equal(await inEnv('users', `cat ${file}`), 'from-host\n');
      assert.equal(existsSync(`${e2e.envDir('users')}/upper${file}`), false, 'not in the upper dir');
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('without subordinate ids, su and runuser fail saying why', async () => {
    await e2e.create('single');
    const dir = e2e.envDir('single');
    writeFileSync(`${dir}/env.json`, readFileSync(`${dir}/env.json`, 'utf8').replace('"auto"', '"single"'));
    rmSync(`${dir}/run/mapping`);
    assert.equal(envMapping(dir), 'single');
    const result = await e2e.venv(['run', 'single', '--', 'sh', '-c', 'useradd -m venvbob; su venvbob -c id']);
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, /su: cannot set groups: Operation not permitted/);
  });
});
