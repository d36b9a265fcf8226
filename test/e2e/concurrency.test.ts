// Several entries into one env share one mounted env: they see each other's writes at
// once, and there is never a second overlay mount on the same upper dir.
import assert from 'node:assert/strict';
import { readlinkSync, writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { processesWith } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('concurrency');
const ENV = 'conc';

/**
 * FUSE daemons serving this env, one per mount namespace: fuse-overlayfs (named by its
 * upper dir) or venv-rootview under the kernel overlay (named by the env dir it hides). Both fork
 * to go to the background, so for a moment one daemon is two processes, and the parent may
 * exit between two reads of /proc (a parent-child test then sees two). Each start of the
 * env is a new mount namespace, so a second mount would show as a second namespace.
 */
function fuseDaemons(): string[] {
  const byNamespace = new Map<string, string>();
  const daemons = [
    ...processesWith(`upperdir=${e2e.envDir(ENV)}/upper,`).filter((p) => p.command.startsWith('fuse-overlayfs')),
    ...processesWith(`venv-rootview --hide ${e2e.envDir(ENV)} `),
  ];
  for (const p of daemons) {
    const namespace = mountNamespaceOf(p.pid) ?? `pid ${p.pid}`;
    if (!byNamespace.has(namespace)) byNamespace.set(namespace, `${p.pid} ${namespace} ${p.command.slice(0, 60)}`);
  }
  return [...byNamespace.values()];
}

function mountNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

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
    assert.equal(fuseDaemons().length, 1);
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
    assert.equal(fuseDaemons().length, 1);
    for (let i = 0; i < 3; i++) {
      const joined = await spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', `echo ${i} >> /etc/joined`]);
      assert.equal(joined.exitCode, 0, joined.stderr);
      assert.equal(fuseDaemons().length, 1, 'the env keeps running for the first session');
    }
    writeFileSync(go, '');
    const result = await first;
    assert.equal(result.stdout, 'in\n0\n1\n2\n');
    assert.equal(result.exitCode, 0);
  });

  test('many entries racing to start the env mount it once', async () => {
    const script = 'echo "$1" > "/etc/race-$1"; sleep 0.3';
    const sessions = Array.from({ length: 6 }, (_, i) =>
      spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', script, 'sh', String(i)], { viaNode: i % 2 === 1 }),
    );
    let most: string[] = [];
    const sampler = setInterval(() => {
      const now = fuseDaemons();
      if (now.length > most.length) most = now;
    }, 10);
    const results = await Promise.all(sessions).finally(() => clearInterval(sampler));
    for (const r of results) assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(most.length, 1, `at most one FUSE daemon at any time: ${most.join(', ')}`);
    const check = await spawnVenv(e2e.home, ['run', ENV, '--', 'sh', '-c', "ls /etc | grep -c '^race-'"]);
    assert.equal(check.stdout, '6\n');
  });
});
