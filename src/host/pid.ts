/** Whether a process exists (one of another user's counts: kill says EPERM). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * SIGKILL to the process group a child leads (it was spawned detached). The group, not
 * just the child: `unshare --map-auto` forks a helper that waits for it to make the
 * namespace and, with util-linux 2.38, waits for ever once unshare is killed first.
 * False when there was no such group to signal.
 */
export function killGroup(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
