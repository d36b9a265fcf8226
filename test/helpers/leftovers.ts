// Finds what an env may leave behind on the host: a FUSE daemon or an anchor process, a
// namespace still holding the env's mount, a command still running. Scoped to one
// VENV_HOME, so that test files (and other users of the machine) can run envs at once.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface HostProcess {
  pid: number;
  command: string;
  /** Its working directory ("" when unreadable): tar works in the upper dir it archives. */
  cwd: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every process whose command line is readable, except this test process. */
export function hostProcesses(): HostProcess[] {
  const found: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = read(`/proc/${pid}/cmdline`);
    if (!cmdline) continue;
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // not ours, or gone
    }
    found.push({ pid, command: cmdline.split('\0').filter(Boolean).join(' '), cwd });
  }
  return found;
}

/** Processes whose command line or working directory contains `text` (e.g. a path). */
export function processesWith(text: string): HostProcess[] {
  return hostProcesses().filter((p) => p.command.includes(text) || p.cwd.includes(text));
}

/** Processes whose command line is exactly `command` (arguments joined by blanks). */
export function processesRunning(command: string): HostProcess[] {
  return hostProcesses().filter((p) => p.command === command);
}

/**
 * Whether a network helper (slirp4netns, or pasta) works for an env under `home`: its
 * command line names only a pid, and in its sandbox its working directory and mounts are
 * its own, so it is known by its environment (the session's, VENV_HOME included) or by its
 * parent, the env's anchor (whose command line names the env's run dir).
 */
function isNetworkHelperOf(pid: number, command: string, home: string): boolean {
  if (!/^\S*(slirp4netns|pasta|passt)\b/.test(command)) return false;
  if (read(`/proc/${pid}/environ`)?.split('\0').includes(`VENV_HOME=${home}`)) return true;
  const parent = /^PPid:\s+(\d+)$/m.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
  return parent !== undefined && (read(`/proc/${parent}/cmdline`) ?? '').includes(`${home}/`);
}

/** Network helpers (slirp4netns, pasta) of the envs under `home` still running. */
export function networkHelpers(home: string): string[] {
  return hostProcesses()
    .filter(({ pid, command }) => isNetworkHelperOf(pid, command, home))
    .map(({ pid, command }) => `network helper ${pid}: ${command.slice(0, 120)}`);
}

/**
 * What is left of the envs under `home`: FUSE daemons serving them, network helpers,
 * processes whose command line names the home, and any process (anchor, command) whose
 * mount namespace still mounts something there.
 */
export function findLeftovers(home: string): string[] {
  const envs = `${home}/envs/`;
  const leftovers: string[] = [];
  for (const { pid, command, cwd } of hostProcesses()) {
    // fuse-overlayfs, or venv-rootview under the kernel overlay (it names the env it hides).
    if ((command.startsWith('fuse-overlayfs') || /^\S*venv-rootview /.test(command)) && command.includes(envs)) {
      leftovers.push(`FUSE daemon ${pid}: ${command}`);
      continue;
    }
    if (isNetworkHelperOf(pid, command, home)) {
      leftovers.push(`network helper ${pid}: ${command.slice(0, 120)}`);
      continue;
    }
    // tar, zstd, unshare and the like that venv started on this home and left running.
    if (command.includes(`${home}/`) || cwd.startsWith(`${home}/`)) {
      leftovers.push(`process ${pid} still works on ${home}: ${command.slice(0, 120)}`);
      continue;
    }
    // mountinfo escapes blanks as octal; the homes the tests make have none.
    const mounts = read(`/proc/${pid}/mountinfo`);
    if (mounts?.includes(envs)) leftovers.push(`process ${pid} holds a mount under ${envs}: ${command.slice(0, 120)}`);
  }
  return leftovers;
}

/**
 * FUSE daemons serving envs whose directory passes `serves`, one per mount namespace:
 * fuse-overlayfs (named by its upper dir) or venv-rootview under the kernel overlay (named
 * by the env dir it hides). Both fork to go to the background, so for a moment one daemon
 * is two processes, and the parent may exit between two reads of /proc. Each start of an
 * env is a new mount namespace, so a second mount of one env shows as a second namespace.
 */
export function fuseDaemons(serves: (envDir: string) => boolean): string[] {
  const byNamespace = new Map<string, string>();
  for (const { pid, command } of hostProcesses()) {
    const dir =
      /^fuse-overlayfs .*upperdir=([^,]+)\/upper,/.exec(command)?.[1] ??
      /^\S*venv-rootview .*--hide (\S+) /.exec(command)?.[1];
    if (dir === undefined || !serves(dir)) continue;
    let namespace: string;
    try {
      namespace = readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      continue; // gone meanwhile: the parent of a daemon that went to the background
    }
    if (!byNamespace.has(namespace)) byNamespace.set(namespace, `${pid} ${namespace} ${command.slice(0, 100)}`);
  }
  return [...byNamespace.values()];
}

/** Waits up to `timeoutMs` for `check` to return nothing; returns what is left. */
export async function pollUntilEmpty<T>(check: () => T[], timeoutMs = 2_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  let left = check();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = check();
  }
  return left;
}

/** Fails when anything of the envs under `home` is still there after a short teardown. */
export async function assertNoLeftovers(home: string, timeoutMs = 2_000): Promise<void> {
  const left = await pollUntilEmpty(() => findLeftovers(home), timeoutMs);
  if (left.length > 0) throw new Error(`left behind after ${timeoutMs} ms:\n  ${left.join('\n  ')}`);
}

/** Fails when a process with `marker` in its command line is still running. */
export async function assertGone(marker: string, timeoutMs = 2_000): Promise<void> {
  const left = await pollUntilEmpty(() => processesWith(marker), timeoutMs);
  if (left.length > 0) throw new Error(`still running: ${left.map((p) => `${p.pid} ${p.command}`).join('; ')}`);
}

/** Waits up to `timeoutMs` until a process runs exactly `command`; returns them. */
export async function waitForProcess(command: string, timeoutMs = 2_000): Promise<HostProcess[]> {
  const deadline = Date.now() + timeoutMs;
  let found = processesRunning(command);
  while (found.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    found = processesRunning(command);
  }
  return found;
}
