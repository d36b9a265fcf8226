// An image's User (`venv create --base` of an OCI image whose config names one) and
// `venv run/shell --user`: the command runs as that user of the env, its names looked up
// in the env's own /etc/passwd and /etc/group, both ways in (venv-enter, and nsenter +
// chroot without the native helpers). The fallback runs the env's GNU env(1), which a
// busybox image lacks: there it is tested on an env of the host's / (what it looks up is
// the same code), and on the image only where it refuses before running anything.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, hasSubordinateIds } from '../helpers/e2e.js';
import { basesHelpers, makeLayout, makeRoot, ONE_ERROR, skip } from './bases-helpers.js';

const e2e = e2eSetup('bases-user', skip);
const { bases, create } = basesHelpers(e2e);

const WAYS = [
  { label: 'venv-enter', env: {} },
  { label: 'nsenter fallback', env: { VENV_NATIVE_HELPERS: '0' } },
] as const;
const needsIds = !hasSubordinateIds && 'needs subordinate ids';

describe("an image's User, and --user", { skip }, () => {
  let dir = '';
  before(async () => {
    dir = `/tmp/venv-test-bases-user-src-${process.pid}`;
    const root = join(dir, 'root');
    makeRoot(root);
    // A user with a home and a supplementary group; the image runs as it by name.
    writeFileSync(`${root}/etc/passwd`, 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
    writeFileSync(`${root}/etc/group`, 'root:x:0:\napp:x:1000:\nextra:x:2000:someone,app\n');
    mkdirSync(`${root}/home/app`, { recursive: true });
    makeLayout(join(dir, 'layout'), root, { User: 'app' });
    await create('img', join(dir, 'layout'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Options go before the env's name: after it, everything is the command's.
  const run = (name: string, args: string[], env: Record<string, string>, user?: string) =>
    e2e.venv(['run', ...(user === undefined ? [] : ['--user', user]), name, ...args], { env, cwd: '/' });

  test('venv bases --json shows the User', async () => {
    assert.equal((await bases())[0]?.config.user, 'app');
  });

  test("the image's User runs the command, with its groups and HOME", { skip: needsIds }, async () => {
    const script = 'id -u; id -g; id -G; echo "$HOME"; touch /etc/nope 2>/dev/null || echo denied';
    const result = await run('img', ['--', 'sh', '-c', script], {});
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, '1000\n1000\n1000 2000\n/home/app\ndenied\n');
  });

  test('--user overrides it: root by name or id, numbers, name:group', { skip: needsIds }, async () => {
    for (const [user, expected] of [
      ['root', '0 0'],
      ['0', '0 0'],
      ['1234:1234', '1234 1234'],
      ['app:extra', '1000 2000'],
    ] as const) {
      const result = await run('img', ['--', 'sh', '-c', 'echo "$(id -u) $(id -g)"'], {}, user);
      assert.equal(result.exitCode, 0, `${user}: ${result.stderr}`);
      assert.equal(result.stdout, `${expected}\n`, user);
    }
  });

  for (const way of WAYS) {
    test(`${way.label}: an unknown user or group fails with one line and a hint, and runs nothing`, async () => {
      for (const user of ['nobodyhere', 'app:nogroup']) {
        const result = await run('img', ['--', 'sh', '-c', 'echo ran'], way.env, user);
        assert.equal(result.exitCode, 125, user);
        assert.match(result.stderr, ONE_ERROR, user);
        assert.match(result.stderr, /no (user "nobodyhere"|group "nogroup")/);
        assert.equal(result.stdout, '');
      }
    });
  }

  test('a malformed --user is a usage error before anything is entered', async () => {
    const result = await run('img', ['--', 'true'], {}, 'a:b:c');
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, ONE_ERROR);
  });

  test("--user on an env of the host, both ways: users of the env's /etc/passwd", { skip: needsIds }, async () => {
    await e2e.create('plain');
    // A user the env alone has (its /etc/passwd is a copy-up of the host's).
    const added = await run(
      'plain',
      ['--', 'sh', '-c', 'echo "venvapp:x:1500:1600::/srv/venvapp:/bin/sh" >>/etc/passwd'],
      {},
    );
    assert.equal(added.exitCode, 0, added.stderr);
    for (const way of WAYS) {
      const nobody = await run('plain', ['--', 'id', '-u'], way.env, 'nobody');
      assert.equal(nobody.exitCode, 0, nobody.stderr);
      assert.equal(nobody.stdout, '65534\n', way.label);
      const own = await run('plain', ['--', 'sh', '-c', 'echo "$(id -u) $(id -g) $(id -G) $HOME"'], way.env, 'venvapp');
      assert.equal(own.exitCode, 0, own.stderr);
      assert.equal(own.stdout, '1500 1600 1600 /srv/venvapp\n', way.label);
      const root = await run('plain', ['--', 'id', '-u'], way.env, 'root');
      assert.equal(root.stdout, '0\n', way.label);
      const unknown = await run('plain', ['--', 'true'], way.env, 'nobodyhere');
      assert.equal(unknown.exitCode, 125, way.label);
      assert.match(unknown.stderr, ONE_ERROR);
    }
  });

  test('an env without subordinate ids has only root: another user is refused in one line', async () => {
    await create('single', join(dir, 'layout'));
    const file = `${e2e.envDir('single')}/env.json`;
    writeFileSync(file, readFileSync(file, 'utf8').replace('"auto"', '"single"'));
    // run/mapping too, which the fast path of bin/venv reads.
    const mapping = `${e2e.envDir('single')}/run/mapping`;
    writeFileSync(mapping, readFileSync(mapping, 'utf8').replace(/^auto /, 'single '));
    for (const way of WAYS) {
      const refused = await run('single', ['--', 'echo', 'ran'], way.env);
      assert.equal(refused.exitCode, 125, `${way.label}: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, ONE_ERROR);
      assert.match(refused.stderr, /not mapped in the env/);
    }
    const root = await run('single', ['--', 'id', '-u'], {}, 'root');
    assert.equal(root.exitCode, 0, root.stderr);
    assert.equal(root.stdout, '0\n');
  });
});
