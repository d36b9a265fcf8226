// What this machine offers an env, and the command that fixes what it lacks. Used by
// `venv doctor`, by `venv create` to choose the id mapping, and to explain failures.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

/** How the env's user namespace maps ids; "host" means no user namespace (real root). */
export type Mapping = 'auto' | 'single' | 'host';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** A command or step that fixes it, when not ok. */
  fix?: string;
  /** False for checks venv can live without (it degrades and says how). */
  required: boolean;
}

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function isRealRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Whether /etc/subuid (or subgid) gives the user a range, by name or by uid. */
export function hasSubordinateRange(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const { username, uid } = userInfo();
  return subordinateRangeIn(text, username, uid);
}

/** The parsing half of hasSubordinateRange: lines are "owner:first:count". */
export function subordinateRangeIn(text: string, username: string, uid: number): boolean {
  return text.split('\n').some((line) => {
    const [owner, , count] = line.trim().split(':');
    return (owner === username || owner === String(uid)) && Number(count) > 0;
  });
}

/** newuidmap is setuid root on Debian, but holds file capabilities elsewhere: presence it is. */
function setuidProgram(name: string): boolean {
  return findProgram(name) !== undefined;
}

export function chooseMapping(): Mapping {
  if (isRealRoot()) return 'host';
  const subids = hasSubordinateRange('/etc/subuid') && hasSubordinateRange('/etc/subgid');
  return subids && setuidProgram('newuidmap') && setuidProgram('newgidmap') ? 'auto' : 'single';
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

export function hostChecks(): Check[] {
  const checks: Check[] = [];
  const root = isRealRoot();
  const { username } = userInfo();

  const clone = readNumber('/proc/sys/kernel/unprivileged_userns_clone');
  const maxNs = readNumber('/proc/sys/user/max_user_namespaces');
  const usernsOk = root || (clone !== 0 && maxNs !== 0);
  checks.push({
    name: 'user namespaces',
    ok: usernsOk,
    required: true,
    detail: root
      ? 'not needed: running as real root (kernel overlayfs backend)'
      : usernsOk
        ? 'unprivileged user namespaces are enabled'
        : clone === 0
          ? 'kernel.unprivileged_userns_clone is 0'
          : 'user.max_user_namespaces is 0',
    fix:
      clone === 0
        ? 'sudo sysctl -w kernel.unprivileged_userns_clone=1'
        : 'sudo sysctl -w user.max_user_namespaces=15000',
  });

  for (const [program, pkg] of [
    ['unshare', 'util-linux'],
    ['nsenter', 'util-linux'],
    ['flock', 'util-linux'],
    ['setsid', 'util-linux'],
    ['mount', 'mount'],
    ['chroot', 'coreutils'],
  ] as const) {
    const path = findProgram(program);
    checks.push({
      name: program,
      ok: path !== undefined,
      required: true,
      detail: path ?? 'not found',
      fix: `sudo apt-get install ${pkg}`,
    });
  }

  // Only envs with --net private need these: not required.
  const slirp = findProgram('slirp4netns');
  let tun = false;
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    tun = true;
  } catch {
    // missing, or not ours to open
  }
  checks.push({
    name: 'slirp4netns',
    ok: slirp !== undefined && tun,
    required: false,
    detail:
      slirp === undefined
        ? 'not found: envs with --net private cannot start'
        : tun
          ? `${slirp}; /dev/net/tun is usable (--net private)`
          : `/dev/net/tun is not readable and writable by ${username}: envs with --net private cannot start`,
    fix: slirp === undefined ? 'sudo apt-get install slirp4netns' : 'sudo chmod 0666 /dev/net/tun',
  });

  if (root) {
    const overlay = existsSync('/proc/filesystems') && /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'));
    checks.push({
      name: 'overlayfs',
      ok: overlay,
      required: true,
      detail: overlay ? 'the kernel has overlayfs' : 'overlay is not in /proc/filesystems',
      fix: 'sudo modprobe overlay',
    });
    return checks;
  }

  let fuseOk = false;
  let fuseDetail = '/dev/fuse does not exist';
  if (existsSync('/dev/fuse')) {
    try {
      accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
      fuseOk = true;
      fuseDetail = '/dev/fuse is usable';
    } catch {
      fuseDetail = `/dev/fuse is not readable and writable by ${username}`;
    }
  }
  checks.push({
    name: '/dev/fuse',
    ok: fuseOk,
    required: true,
    detail: fuseDetail,
    fix: existsSync('/dev/fuse') ? 'sudo chmod 0666 /dev/fuse' : 'sudo modprobe fuse',
  });

  const newuidmap = findProgram('newuidmap');
  checks.push({
    name: 'newuidmap/newgidmap',
    ok: setuidProgram('newuidmap') && setuidProgram('newgidmap'),
    required: false,
    detail: newuidmap
      ? 'present'
      : 'not found: only your own id is mapped, so chown to other ids fails inside (apt warns)',
    fix: 'sudo apt-get install uidmap',
  });

  const subuid = hasSubordinateRange('/etc/subuid');
  const subgid = hasSubordinateRange('/etc/subgid');
  checks.push({
    name: 'subordinate ids',
    ok: subuid && subgid,
    required: false,
    detail:
      subuid && subgid
        ? `${username} has ranges in /etc/subuid and /etc/subgid`
        : `${username} has no range in ${subuid ? '/etc/subgid' : '/etc/subuid'}: only your own id is mapped inside`,
    fix: `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username}`,
  });
  return checks;
}

/** The first failing required check, for explaining a failure to enter an env. */
export function firstBlockingProblem(checks: Check[]): Check | undefined {
  return checks.find((check) => check.required && !check.ok);
}
