// An env on a base and the archive commands (commit, restore, apply, diff), and an import
// seen on a terminal (progress), with --quiet, and cut short by Ctrl-C.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { e2eSetup } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';
import { spawnVenv } from '../helpers/venv-cli.js';
import { tarMembers } from './archive-helpers.js';
import { basesHelpers, makeSources, ONE_ERROR, OS_RELEASE, skip } from './bases-helpers.js';

const e2e = e2eSetup('bases-arc', skip);
const { storeEntries, envBase, inEnv, create } = basesHelpers(e2e);

describe('envs on a base: archives and imports', { skip }, () => {
  const sources = skip ? undefined : makeSources('bases-arc');
  const dir = sources?.dir ?? '';
  const root = sources?.root ?? '';
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("commit holds only the env's own changes and names the base; restore needs that base stored", async () => {
    const id = await create('committed', root);
    await inEnv('committed', 'echo mine > /etc/venv-committed; rm /etc/doomed');
    // diff compares with the base, not with the host's /.
    const changes = await e2e.venv(['diff', 'committed']);
    assert.equal(changes.exitCode, 0, changes.stderr);
    assert.deepEqual(changes.stdout.split('\n').filter(Boolean).sort(), [
      'added      /etc/venv-committed',
      'deleted    /etc/doomed',
    ]);
    const file = join(dir, 'committed.tar');
    const made = await e2e.venv(['commit', 'committed', '-o', file, '--compress', 'none']);
    assert.equal(made.exitCode, 0, made.stderr);
    const names = tarMembers(file).map((member) => member.name);
    assert.deepEqual(names.filter((name) => !name.startsWith('venv/')).sort(), [
      'etc',
      'etc/.wh.doomed',
      'etc/venv-committed',
    ]);
    assert.ok(!names.includes('bin/busybox'), 'the base is not in the archive');
    assert.match(
      readFileSync(file, 'latin1'),
      new RegExp(`comment=venv: made on base ${id} \\(sha256:[0-9a-f]{64}\\)`),
    );

    // Restored where the base is stored: an env on it, with the changes.
    const restored = await e2e.venv(['restore', file, 'restored']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.equal(envBase('restored'), id);
    assert.equal(
      await inEnv('restored', 'cat /etc/venv-committed /etc/os-release; test -e /etc/doomed || echo gone'),
      `mine\n${OS_RELEASE}gone\n`,
    );
    // Not into an env on the host's /: the archive means nothing there.
    await e2e.create('on-host');
    const mixed = await e2e.venv(['restore', '--force', file, 'on-host']);
    assert.equal(mixed.exitCode, 125);
    assert.match(mixed.stderr, ONE_ERROR);
    assert.match(mixed.stderr, new RegExp(`changes made on base ${id}, but env "on-host" stands on the host's /`));

    // Nor are they applied to the host: a deletion there would delete the host's file.
    const applied = await e2e.venv(['apply', '-y', 'committed']);
    assert.equal(applied.exitCode, 125);
    assert.match(applied.stderr, ONE_ERROR);
    assert.match(
      applied.stderr,
      new RegExp(`env "committed" stands on base ${id}: its changes are not changes of the host`),
    );
    // Without the base, restore refuses and makes nothing.
    assert.equal((await e2e.venv(['rm', 'committed', 'restored', 'on-host'])).exitCode, 0);
    assert.equal((await e2e.venv(['bases', 'prune'])).exitCode, 0);
    const missing = await e2e.venv(['restore', file, 'orphan']);
    assert.equal(missing.exitCode, 125);
    assert.match(missing.stderr, ONE_ERROR);
    assert.match(
      missing.stderr,
      new RegExp(`an env on base ${id} \\(sha256:[0-9a-f]{64}\\), which is not stored here`),
    );
    assert.equal(existsSync(e2e.envDir('orphan')), false);
    assert.deepEqual(
      readdirSync(`${e2e.home}/envs`).filter((entry) => entry.includes('orphan')),
      [],
    );
  });

  test(
    'an import that takes a while draws one progress line on a terminal, none with --quiet; Ctrl-C leaves nothing',
    { skip: !hasScript && 'needs script(1)' },
    async () => {
      const big = join(dir, 'big-root');
      execFileSync('cp', ['-a', root, big]);
      // Random bytes: gzip cannot make the import too quick to show a bar.
      execFileSync('sh', ['-c', 'head -c 48M /dev/urandom > "$1/opt/data"', 'sh', big]);
      const file = join(dir, 'big.tar.gz');
      execFileSync('sh', ['-c', 'tar --create --directory "$1" . | gzip -1 > "$2"', 'sh', big, file]);
      rmSync(big, { recursive: true, force: true });
      const shown = onTerminal(e2e.home, ['create', '--base', file, 'big']);
      assert.equal(shown.status, 0, shown.screen);
      assert.match(shown.screen, /importing base \/.*big\.tar\.gz \[[#.]{30}\] +\d+% [\d.]+ (B|KiB|MiB)/);
      assert.match(shown.screen, /created env "big" on base [0-9a-f]{16}/);
      const quiet = onTerminal(e2e.home, ['create', '-q', '--base', file, 'big-quiet']);
      assert.equal(quiet.status, 0, quiet.screen);
      assert.doesNotMatch(quiet.screen, /importing base|created env/);
      assert.equal((await e2e.venv(['rm', 'big', 'big-quiet'])).exitCode, 0);
      assert.equal((await e2e.venv(['bases', 'prune'])).exitCode, 0);

      // Ctrl-C while it extracts: no base, no half-made import, no env, no process left.
      const cut = spawnVenv(e2e.home, ['create', '--base', file, 'cut']);
      const extracting = () =>
        storeEntries().some(
          (entry) => entry.startsWith('.import-') && existsSync(`${e2e.home}/bases/${entry}/layer-0`),
        );
      for (let waited = 0; !extracting() && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.ok(extracting(), 'the import reached the extraction');
      cut.kill('SIGINT');
      const ended = await cut;
      assert.equal(ended.exitCode, 130, String(ended.stderr));
      assert.match(String(ended.stderr), /^venv: error: interrupted by SIGINT; nothing was changed\n/);
      assert.deepEqual(storeEntries(), []);
      assert.equal(existsSync(e2e.envDir('cut')), false);
    },
  );
});
