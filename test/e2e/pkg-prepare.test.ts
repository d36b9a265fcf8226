// prepareEnvForPackages on an env that exists already (restored, or entered before): it
// must add only what is missing, also where the upper dir's directories belong to
// subordinate ids.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chooseMapping } from '../../src/host/host-checks.js';
import { readMeta } from '../../src/store/env-store.js';
import { envPaths } from '../../src/store/paths.js';
import { DPKG_HOOK_FILE, pkgDbState } from '../../src/pkg/pkgdb-files.js';
import { prepareEnvForPackages } from '../../src/pkg/prepare-env.js';
import { writeIntoUpper } from '../../src/pkg/upper-writer.js';
import { isRoot, TestHome } from './pkg-helpers.js';

describe('preparing an existing env again', () => {
  const t = new TestHome();
  before(() => {
    assert.equal(t.venv('create', 'again').status, 0);
  });
  after(() => t.finish());

  it(
    'writes nothing into a prepared env, and puts back only what went missing',
    { skip: isRoot && 'runs as the test user only' },
    async () => {
      const paths = envPaths('again', t.home);
      const meta = await readMeta('again', t.home);
      assert.equal(await prepareEnvForPackages(paths, meta), 0);
      rmSync(t.upper('again', '/var/lib/dpkg/lock'));
      assert.equal(await prepareEnvForPackages(paths, meta), 1);
      assert.equal(lstatSync(t.upper('again', '/var/lib/dpkg/lock')).mode & 0o777, 0o640);
    },
  );

  it(
    "does not put the base hook into an env whose database changed without it (it would take the env's status for the base)",
    { skip: isRoot && 'runs as the test user only' },
    async () => {
      const paths = envPaths('again', t.home);
      const meta = await readMeta('again', t.home);
      copyFileSync('/var/lib/dpkg/status', t.upper('again', '/var/lib/dpkg/status'));
      rmSync(t.upper('again', DPKG_HOOK_FILE));
      assert.equal(await prepareEnvForPackages(paths, meta), 0);
      assert.equal(existsSync(t.upper('again', DPKG_HOOK_FILE)), false);
      assert.equal(pkgDbState(paths), 'no-base');
    },
  );

  it(
    'writes into directories owned by subordinate ids (chowned or copied up inside), through a user namespace',
    {
      skip:
        (isRoot && 'as root, nothing stops node from writing directly') ||
        (chooseMapping() !== 'auto' && 'needs subordinate ids (the only mapping with copied-up dirs of other owners)'),
    },
    async () => {
      // fuse-overlayfs copies a host dir up as the host's owner; the kernel overlay as root's,
      // and chown inside gives it another: either way a subordinate id owns it on the host.
      t.sh('again', 'touch /var/lib/dpkg/info/venv-copied-up.list; chown 100:100 /var/lib/dpkg/info');
      const dir = t.upper('again', '/var/lib/dpkg/info');
      assert.notEqual(lstatSync(dir).uid, process.getuid?.(), 'the copied-up dir belongs to a subordinate id');
      const { mapping } = await readMeta('again', t.home);
      const item = {
        kind: 'file',
        path: '/var/lib/dpkg/info/venv-test.list',
        content: '/x\n',
        mode: 0o644,
        why: 'test',
      } as const;
      assert.equal((await writeIntoUpper(t.upper('again'), [item], mapping)).written, 1);
      assert.equal(
        t.sh('again', 'cat /var/lib/dpkg/info/venv-test.list; stat -c %U /var/lib/dpkg/info/venv-test.list'),
        '/x\nroot\n',
      );
    },
  );
});
