// `venv create NAME --base SOURCE`: an env on a root file system of its own, given as a
// directory or a tarball (zstd, gzip): its os-release, the shared dirs, changes kept in the
// env, one stored base shared by envs, bases rm refused while in use, the prompt.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { e2eSetup } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';
import { basesHelpers, makeSources, ONE_ERROR, OS_RELEASE, sha256, skip } from './bases-helpers.js';

const e2e = e2eSetup('bases', skip);
const { bases, storeEntries, envBase, inEnv, create } = basesHelpers(e2e);

describe('envs on a base (create --base)', { skip }, () => {
  const sources = skip ? undefined : makeSources('bases');
  const dir = sources?.dir ?? '';
  const root = sources?.root ?? '';
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a directory: its os-release shows, changes stay in the env, the shared dirs are the host's", async () => {
    const id = await create('dir1', root);
    assert.equal(await inEnv('dir1', 'cat /etc/os-release'), OS_RELEASE);
    // Your home and /tmp are the host's, live, as on envs over /.
    const shared = join('/tmp', `venv-test-bases-shared-${process.pid}`);
    writeFileSync(shared, 'from the host\n');
    try {
      assert.equal(
        await inEnv('dir1', `cat ${shared}; test -d "$HOME" && echo home-shared`),
        'from the host\nhome-shared\n',
      );
    } finally {
      rmSync(shared, { force: true });
    }
    await inEnv('dir1', 'echo mine > /etc/venv-base-change; rm /etc/doomed; echo more >> /opt/old/file');
    assert.equal(
      await inEnv('dir1', 'cat /etc/venv-base-change /opt/old/file; test -e /etc/doomed || echo gone'),
      'mine\nold\nmore\ngone\n',
    );
    // The change is in the env's upper dir, not in the stored base, nor on the host.
    const tree = `${e2e.home}/bases/${id}/tree`;
    assert.equal(readFileSync(`${e2e.envDir('dir1')}/upper/etc/venv-base-change`, 'utf8'), 'mine\n');
    assert.equal(existsSync(`${tree}/etc/venv-base-change`), false);
    assert.equal(readFileSync(`${tree}/etc/doomed`, 'utf8'), 'doomed\n');
    assert.equal(readFileSync(`${tree}/opt/old/file`, 'utf8'), 'old\n');
    assert.equal(existsSync('/etc/venv-base-change'), false);
    // Names resolve as on the host: its resolv.conf, read-only, over the base's (which has none).
    assert.equal(await inEnv('dir1', 'cat /etc/resolv.conf'), readFileSync('/etc/resolv.conf', 'utf8'));
    assert.match(await inEnv('dir1', 'echo x 2>&1 > /etc/resolv.conf || :'), /Read-only file system/);
    // Without a WorkingDir, a directory of the caller's that the base lacks gives /.
    assert.equal(await inEnv('dir1', 'pwd', '/usr/share'), '/\n');
  });

  test('the store of bases is read-only inside an env (no env can change a base others stand on)', async () => {
    const [base] = await bases();
    assert.ok(base);
    const out = await inEnv(
      'dir1',
      `touch ${e2e.home}/bases/${base.id}/tree/etc/planted 2>&1 || echo refused; echo x > ${e2e.home}/bases/${base.id}/base.json 2>&1 || echo refused`,
    );
    assert.match(out, /Read-only file system[\s\S]*refused[\s\S]*refused/);
    assert.equal(existsSync(`${e2e.home}/bases/${base.id}/tree/etc/planted`), false);
  });

  test('two envs from the same source share one stored base; bases rm is refused while one uses it', async () => {
    const id = await create('dir2', root);
    assert.equal(envBase('dir1'), id, 'the same content gives the same base');
    assert.deepEqual(storeEntries(), [id]);
    const [listed] = await bases();
    assert.deepEqual(listed?.envs, ['dir1', 'dir2']);
    assert.equal(listed?.kind, 'directory');
    assert.equal(listed?.source, root);
    assert.equal(await inEnv('dir2', 'test -e /etc/venv-base-change || echo not-dir1s'), 'not-dir1s\n');

    const refused = await e2e.venv(['bases', 'rm', id.slice(0, 6)]);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, ONE_ERROR);
    assert.match(refused.stderr, new RegExp(`base ${id} is in use by envs "dir1", "dir2"`));
    assert.ok(existsSync(`${e2e.home}/bases/${id}/tree/bin/busybox`));

    // The base stays when its last env goes, until bases rm or prune removes it.
    assert.equal((await e2e.venv(['rm', 'dir1', 'dir2'])).exitCode, 0);
    const table = await e2e.venv(['bases']);
    assert.match(
      table.stdout,
      new RegExp(`^ID +KIND +SIZE +ENVS +SOURCE\\n${id} +directory +[0-9.]+ MiB +- +${root}\\n$`),
    );
    const removed = await e2e.venv(['bases', 'rm', id]);
    assert.equal(removed.exitCode, 0, removed.stderr);
    assert.equal(removed.stdout, `removed base ${id}\n`);
    assert.deepEqual(storeEntries(), []);
    const none = await e2e.venv(['bases', 'rm', id]);
    assert.equal(none.exitCode, 125);
    assert.match(none.stderr, ONE_ERROR);
  });

  for (const compression of ['zstd', 'gzip'] as const) {
    test(`a tarball of a root file system (${compression})`, async () => {
      const file = join(dir, `root.tar.${compression}`);
      execFileSync('sh', ['-c', `tar --create --directory "$1" . | ${compression} -c > "$2"`, 'sh', root, file]);
      const name = `tar-${compression}`;
      const id = await create(name, file);
      assert.equal(id, sha256(readFileSync(file)).slice(7, 23), 'the id is the sha256 of the file');
      assert.equal(await inEnv(name, 'cat /etc/os-release; cat /etc/doomed'), `${OS_RELEASE}doomed\n`);
      const listed = (await bases()).find((base) => base.id === id);
      assert.equal(listed?.kind, 'tarball');
      assert.equal((await e2e.venv(['rm', name])).exitCode, 0);
      assert.equal((await e2e.venv(['bases', 'prune'])).stdout, `removed base ${id}\n`);
    });
  }

  test(
    'the prompt of venv shell names the env (the base has no bash: its /bin/sh)',
    { skip: !hasScript && 'needs script(1)' },
    async () => {
      await create('prompt', root);
      const { status, screen } = onTerminal(e2e.home, ['shell', 'prompt'], 'cat /etc/os-release\nexit\n');
      assert.equal(status, 0, screen);
      assert.match(screen, /\(prompt\) /);
      assert.match(screen, /Tiny Test Linux/);
      assert.equal((await e2e.venv(['rm', 'prompt'])).exitCode, 0);
    },
  );
});
