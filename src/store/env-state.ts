// Whether an env is entered right now, and by which processes. The keeper file is written
// by session.sh: "<anchor-pid> <anchor-start-time>"; the anchor is pid 1 of the env's pid
// namespace, so the env's processes are those in the anchor's namespace.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { READ_LIMITS, readEnvFile } from './env-files.js';
import { envPaths, venvHome } from './paths.js';

export interface EnvProcess {
  pid: number;
  command: string;
}

export interface RunningEnv {
  anchorPid: number;
  /** The user's processes inside the env: not venv's own (the anchor, its lock helpers, the FUSE daemon, the session shells). */
  processes: EnvProcess[];
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

/** The anchor's own helpers (keeper.sh's anchor_script): its children with these command lines. */
const ANCHOR_HELPERS = new Set(['flock -x 9', 'flock -x 8', 'mv -f keeper keeper.ending']);

/**
 * Whether a process in the env is venv's own rather than the user's: a FUSE daemon, one of
 * the anchor's lock helpers, slirp4netns, or the shell session.sh enters the env with (`/bin/sh -c
 * SCRIPT venv CWD CMD...`, whose parent, nsenter, is outside the env's pid namespace).
 */
function isVenvOwn(args: string[], parentPid: number, anchorPid: number, namespace: string): boolean {
  const command = args.join(' ');
  if (command.startsWith('fuse-overlayfs ') || /^\S*venv-rootview /.test(command)) return true;
  if (parentPid === anchorPid && ANCHOR_HELPERS.has(command)) return true;
  // The network of a --net private env (keeper.sh starts it; it is reparented to the anchor).
  if (parentPid === anchorPid && command.startsWith('slirp4netns ')) return true;
  if (/(^|\/)sh$/.test(args[0] ?? '') && args[1] === '-c' && args[3] === 'venv') {
    try {
      return readlinkSync(`/proc/${parentPid}/ns/pid`) !== namespace;
    } catch {
      return true; // a parent we may not look at is not in the user's env
    }
  }
  return false;
}

/** The user's processes in the env, with their command lines (venv's own left out). */
function envProcesses(anchorPid: number): EnvProcess[] {
  let namespace: string;
  try {
    namespace = readlinkSync(`/proc/${anchorPid}/ns/pid`);
  } catch {
    return [];
  }
  const found: EnvProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === anchorPid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) !== namespace) continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const parentPid = Number(statFields(pid)?.[3]);
      if (args.length === 0 || isVenvOwn(args, parentPid, anchorPid, namespace)) continue;
      found.push({ pid, command: args.join(' ') });
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

/** "123 sleep 30; 456 bash", the first five, each command cut to 60 characters on one line. */
export function describeProcesses(env: { processes: EnvProcess[] }): string {
  const shown = env.processes.slice(0, 5).map((p) => `${p.pid} ${oneLine(p.command)}`);
  const more = env.processes.length > 5 ? `, and ${env.processes.length - 5} more` : '';
  return shown.length > 0 ? `${shown.join('; ')}${more}` : 'no process but the env itself';
}

function oneLine(command: string): string {
  // eslint-disable-next-line no-control-regex -- a command line is the env's: no escapes reach the terminal
  const flat = command.replace(/\s+/g, ' ').replace(/[\0-\x1f\x7f]/g, '?');
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

/** Ends a running env: killing pid 1 of its namespace ends every process in it. */
export function killEnv(env: RunningEnv): void {
  try {
    process.kill(env.anchorPid, 'SIGKILL');
  } catch {
    // already gone
  }
}
