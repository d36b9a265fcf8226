// The env's /proc where the kernel refuses one (runtime/env-proc.sh): in a user namespace a
// new proc mount needs a fully visible proc mount in the mount namespace, which container
// runtimes break by mounting over files in /proc. Made here as they do it (/dev/null over
// /proc/uptime, locked by a further user namespace), the keeper's own functions mount the
// env's /proc where they can and bind the host's, saying so, where they cannot.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipReason } from '../helpers/e2e.js';

const runtime = fileURLToPath(new URL('../../src/runtime', import.meta.url));

// In a new user, mount and pid namespace: the keeper's steps for /proc, as keeper.sh runs
// them, on $merged/proc; then what /proc there shows.
const KEEPER_STEPS = `set -u
. "$RUNTIME/private-run.sh"; . "$RUNTIME/env-proc.sh"
merged=$1; mkdir "$merged/proc"
env_proc_line
mount_fstab "$merged/fstab" "$proc_line" 2>/dev/null || { env_proc_fallback && echo fell-back; }
# pid 1 of the /proc there: the env's own init, or another namespace's.
[ "$(readlink "$merged/proc/1/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] && echo own-pids || echo other-pids`;

function keeperSteps(maskProc: boolean): { stdout: string; stderr: string } {
  const merged = mkdtempSync('/tmp/venv-proc-fallback-');
  try {
    const mask = maskProc ? 'mount --bind /dev/null /proc/uptime' : ':';
    const outer = `${mask}; unshare --user --map-root-user --mount --pid --fork sh -c "$STEPS" sh "$1"`;
    const result = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', outer, 'sh', merged], {
      encoding: 'utf8',
      env: { ...process.env, RUNTIME: runtime, STEPS: KEEPER_STEPS },
      timeout: 30_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return { stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(merged, { recursive: true, force: true });
  }
}

describe("an env's /proc", { skip: skipReason }, () => {
  test("is its own pid namespace's where /proc is fully visible", () => {
    const { stdout, stderr } = keeperSteps(false);
    assert.equal(stdout, 'own-pids\n');
    assert.equal(stderr, '');
  });

  test("is the host's, with a line in the keeper's log, where the kernel refuses it", () => {
    const { stdout, stderr } = keeperSteps(true);
    assert.equal(stdout, 'fell-back\nother-pids\n');
    assert.match(
      stderr,
      /^keeper: the kernel refused a \/proc of the env's own \(above\); the env shows the host's \/proc$/m,
    );
  });
});
