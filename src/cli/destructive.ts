// What rm, rollback and restore --force ask before they destroy work (confirm.ts asks it,
// on a terminal only), and what --force says it ended. The question names what is lost:
// the env's changes, its snapshots, the processes --force would end.
import { existsSync, readdirSync } from 'node:fs';
import { isValidEnvName } from '../store/env-name.js';
import { describeProcesses, type EnvProcess, runningEnv } from '../store/env-state.js';
import { envExists } from '../store/env-store.js';
import { venvHome } from '../store/paths.js';
import { checkTag, snapshotDir, snapshotsDir } from '../snapshots/snapshot-store.js';

function snapshotCount(name: string, home: string): number {
  try {
    return readdirSync(snapshotsDir(home, name)).filter((entry) => !entry.startsWith('.')).length;
  } catch {
    return 0;
  }
}

/** ", which 2 processes use (123 sleep 30; ...), ended first" when `force` would end some. */
function inUse(name: string, home: string, force: boolean | undefined): string {
  const running = runningEnv(name, home);
  if (!running || !force) return '';
  const count = running.processes.length;
  return `; it is in use, and ${count === 1 ? 'its process' : `its ${count} processes`} (${describeProcesses(running)}) will be ended`;
}

/** The question for `venv rm NAMES`, or undefined when none of them would be removed (rm says why). */
export async function rmQuestion(names: string[], force?: boolean, home = venvHome()): Promise<string | undefined> {
  const parts: string[] = [];
  for (const name of names) {
    if (!isValidEnvName(name) || !(await envExists(name, home))) continue;
    // One in use is refused without --force: nothing to ask about it.
    if (!force && runningEnv(name, home)) continue;
    const snapshots = snapshotCount(name, home);
    const also = snapshots ? ` and its ${snapshots === 1 ? 'snapshot' : `${snapshots} snapshots`}` : '';
    parts.push(`env "${name}" with all its changes${also}${inUse(name, home, force)}`);
  }
  return parts.length ? `remove ${parts.join(', and ')}?` : undefined;
}

/** The question for `venv rollback NAME TAG`, or undefined when there is no such env or snapshot (rollback says so). */
export async function rollbackQuestion(
  name: string,
  tag: string,
  force?: boolean,
  home = venvHome(),
): Promise<string | undefined> {
  if (!isValidEnvName(name) || !(await envExists(name, home))) return undefined;
  if (!force && runningEnv(name, home)) return undefined; // refused without --force
  try {
    checkTag(tag);
    if (!existsSync(snapshotDir(home, name, tag))) return undefined;
  } catch {
    return undefined;
  }
  return `put env "${name}" back to snapshot "${tag}"? What it changed since is lost${inUse(name, home, force)}.`;
}

/** The question for `restore --force FILE NAME`, or undefined when there is no env NAME to replace. */
export async function restoreQuestion(name: string, file: string, home = venvHome()): Promise<string | undefined> {
  if (!isValidEnvName(name) || !(await envExists(name, home))) return undefined;
  return `replace all the changes of env "${name}" with those of ${file === '-' ? 'the archive' : file}?`;
}

/** `venv: ended 2 processes in env "w": 123 sleep 30; 456 bash` (to stderr). */
export function endedLine(name: string, processes: EnvProcess[]): string {
  const count = processes.length;
  if (count === 0) return `venv: ended env "${name}", which was starting or stopping (no process of yours in it)\n`;
  return `venv: ended ${count === 1 ? '1 process' : `${count} processes`} in env "${name}": ${describeProcesses({ processes })}\n`;
}
