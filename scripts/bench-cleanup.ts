// The benchmark's scratch space and the guarantee that nothing outlives it: a temporary
// VENV_HOME and work dir, removed on every way out (Ctrl-C included), with a check that no
// process of ours (a keeper, an anchor, a FUSE daemon) is left running.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killEnv, runningEnv } from '../src/store/env-state.js';
import { removeTree } from '../src/store/env-store.js';
import { abortMeasuring } from './bench-measure.js';

export async function makeScratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'venv-bench-'));
}

/** Ctrl-C, SIGTERM or SIGHUP: stop the running commands; the caller's finally cleans up. */
export function abortOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
      process.exitCode = 130;
      // SIGTERM, also for Ctrl-C: venv passes it on to the command, while it leaves a
      // SIGINT to the terminal's process group (and a child of ours may not be in it).
      abortMeasuring('SIGTERM');
    });
  }
}

/** Processes whose command line names the scratch dir: keepers, FUSE daemons, sessions. */
async function processesUsing(dir: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      if (command.includes(dir)) found.push({ pid, command });
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

/**
 * Ends whatever still runs in the bench's envs, removes the scratch dir, and returns the
 * processes that had to be killed: a non-empty list is a leak in venv (or the bench).
 */
export async function cleanUp(scratch: string, home: string): Promise<string[]> {
  const leaked: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(join(home, 'envs'));
  } catch {
    // no env was created
  }
  for (const name of names) {
    const env = runningEnv(name, home);
    if (!env) continue;
    leaked.push(`env ${name}: anchor ${env.anchorPid}`);
    killEnv(env);
  }
  for (const { pid, command } of await processesUsing(scratch)) {
    leaked.push(`${pid} ${command.slice(0, 100)}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  if (leaked.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  // Copied-up files belong to subordinate ids: removeTree deletes from inside a user namespace.
  await removeTree(scratch, 'auto');
  return leaked;
}
