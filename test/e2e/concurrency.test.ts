// Several entries into one env share one mounted env: they see each other's writes at
// once, and there is never a second overlay mount on the same upper dir.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { fuseDaemons } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('concurrency');
const ENV = 'conc';

/** FUSE daemons serving this env, one per mount namespace (see leftovers.ts). */
const daemons = () => fuseDaemons((dir) => dir === e2e.envDir(ENV));

// Writes /etc/<mine>, waits for /etc/<theirs> (written by the other session), prints it.
const PEER = `echo "$1" > "/etc/venv-test-$1"
echo wrote
i=0; while [ ! -s "/etc/venv-test-$2" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
cat "/etc/venv-test-$2"`;

describe('concurrent entries', { skip: skipReason }, () => {
  before(() => e2e.create(ENV));

  test("two entries started at once see each other's writes, through one mount", async () => {
    const a = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', PEER, 'sh', 'a', 'b']);
    const b = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', PEER, 'sh', 'b', 'a'], { viaNode: true });
    await Promise.all([waitForOutput(a, 'wrote'), waitForOutput(b, 'wrote')]);
    assert.equal(daemons().length, 1);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.stdout, 'wrote\nb\n', ra.stderr);
    assert.equal(rb.stdout, 'wrote\na\n', rb.stderr);
    assert.deepEqual([ra.exitCode, rb.exitCode], [0, 0]);
  });

  test('a later entry joins the running env; the env lives until the last one leaves', async () => {
    // The first session runs until the test creates the file "go" (/tmp is shared).
    const go = `${e2e.home}/go`;
    const script = 'echo in; while [ ! -e "$1" ]; do sleep 0.05; done; cat /etc/joined';
    const first = spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', go]);
    await waitForOutput(first, 'in');
    assert.equal(daemons().length, 1);
    for (let i = 0; i < 3; i++) {
      const joined = await spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', `echo ${i} >> /etc/joined`]);
      assert.equal(joined.exitCode, 0, joined.stderr);
      assert.equal(daemons().length, 1, 'the env keeps running for the first session');
    }
    writeFileSync(go, '');
    const result = await first;
    assert.equal(result.stdout, 'in\n0\n1\n2\n');
    assert.equal(result.exitCode, 0);
  });

  test('many entries racing to start the env mount it once', async () => {
    const script = 'echo "$1" > "/etc/race-$1"; sleep 0.3';
    // Through the shell and node paths, and for two of them with flock(1) and nsenter
    // instead of the native helpers: the locks are the same flock(2) locks either way.
    const sessions = Array.from({ length: 6 }, (_, i) =>
      spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', String(i)], {
        viaNode: i % 2 === 1,
        env: { VENV_NATIVE_HELPERS: i % 3 === 2 ? '0' : undefined },
      }),
    );
    let most: string[] = [];
    const sampler = setInterval(() => {
      const now = daemons();
      if (now.length > most.length) most = now;
    }, 10);
    const results = await Promise.all(sessions).finally(() => clearInterval(sampler));
    for (const r of results) assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(most.length, 1, `at most one FUSE daemon at any time: ${most.join(', ')}`);
    const check = await spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', "ls /etc | grep -c '^race-'"]);
    assert.equal(check.stdout, '6\n');
  });
});
