// Whether an env is entered right now, and by which processes. The keeper file is written
// by session.sh: "<anchor-pid> <anchor-start-time>"; the anchor is pid 1 of the env's pid
// namespace, so the env's processes are those in the anchor's namespace.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { READ_LIMITS, readEnvFile } from './env-files.js';
import { envPaths, venvHome } from './paths.js';

export interface RunningEnv {
  anchorPid: number;
  /** Processes inside the env (not the anchor or the FUSE daemon: fuse-overlayfs or venv-rootview). */
  processes: { pid: number; command: string }[];
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [String(pid), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ...afterName];
  } catch {
    return undefined;
  }
}

function isLive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[2] !== 'Z';
}

export function runningEnv(name: string, home = venvHome()): RunningEnv | undefined {
  // Through env-files: a keeper file that is a link to /dev/zero or a FIFO is refused, not read.
  const text = readEnvFile(envPaths(name, home).run, 'keeper', READ_LIMITS.runLine);
  if (text === undefined) return undefined;
  const [anchor, start] = text.trim().split(' ').map(Number);
  if (!anchor || !isLive(anchor) || statFields(anchor)?.[21] !== String(start)) return undefined;
  return { anchorPid: anchor, processes: envProcesses(anchor) };
}

function envProcesses(anchorPid: number): { pid: number; command: string }[] {
  let namespace: string;
  try {
    namespace = readlinkSync(`/proc/${anchorPid}/ns/pid`);
  } catch {
    return [];
  }
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === anchorPid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) !== namespace) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      // The FUSE daemons serve the env; they are not what the user runs in it.
      if (command === '' || command.startsWith('fuse-overlayfs ') || /^\S*venv-rootview /.test(command)) continue;
      found.push({ pid, command });
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

export function describeProcesses(env: RunningEnv): string {
  const shown = env.processes.slice(0, 5).map((p) => `${p.pid} ${p.command.slice(0, 40)}`);
  const more = env.processes.length > 5 ? `, and ${env.processes.length - 5} more` : '';
  return shown.length > 0 ? `${shown.join('; ')}${more}` : 'no process but the env itself';
}

/** Ends a running env: killing pid 1 of its namespace ends every process in it. */
export function killEnv(env: RunningEnv): void {
  try {
    process.kill(env.anchorPid, 'SIGKILL');
  } catch {
    // already gone
  }
}
