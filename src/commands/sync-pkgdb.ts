// `venv sync-pkgdb NAME`: rebuilds the env's dpkg status as the host's plus the env's own
// installs and removals (pkg/pkgdb-merge.ts), then makes the host's status the new base.
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertValidEnvName } from '../store/env-name.js';
import { describeProcesses, runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { formatStatus, parseStatus, type Stanza } from '../pkg/dpkg-status.js';
import { HOST_STATUS, pkgDbFiles, pkgDbState, type PkgDbState } from '../pkg/pkgdb-files.js';
import { mergePkgDb, type MergeResult, type PackageChange } from '../pkg/pkgdb-merge.js';
import { readMeta } from '../store/env-store.js';

export interface SyncPkgDbOptions {
  name: string;
  /** Report what would change, write nothing. */
  dryRun?: boolean;
  home?: string;
}

export interface SyncPkgDbReport {
  name: string;
  /** The state before the sync. */
  state: PkgDbState;
  /** Undefined when the env has no database of its own (it sees the host's: nothing to do). */
  merge?: Omit<MergeResult, 'stanzas'>;
  written: boolean;
}

function readDb(path: string, what: string): Map<string, Stanza> {
  try {
    return parseStatus(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new VenvError('IO_FAILED', `cannot read ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * dpkg's journal entries are files named by number, applied before the status is read.
 * Only the env's own count: a whiteout there is an entry of the host's that the env's
 * dpkg applied and removed (the host ran dpkg at the same moment).
 */
function pendingJournal(updatesDir: string): boolean {
  try {
    return readdirSync(updatesDir, { withFileTypes: true }).some((e) => /^\d+$/.test(e.name) && e.isFile());
  } catch {
    return false;
  }
}

/**
 * Every session holds the env's users lock shared while it is inside (session.sh): with
 * it held exclusively, no session is in the env, and one that starts meanwhile fails
 * rather than see a database half replaced.
 */
async function renameWhileNotEntered(runDir: string, name: string, from: string, to: string): Promise<void> {
  const moved = await run('flock', ['-x', '-n', join(runDir, 'users.lock'), 'mv', '-f', '-T', '--', from, to]);
  if (moved.exitCode !== 0) {
    throw new VenvError('ENV_BUSY', `env "${name}" is being entered right now`, { hint: 'try again in a moment' });
  }
}

export async function syncPkgDb(options: SyncPkgDbOptions): Promise<SyncPkgDbReport> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, async () => {
    const running = runningEnv(options.name, home);
    if (running) {
      throw new VenvError('ENV_BUSY', `env "${options.name}" is in use: ${describeProcesses(running)}`, {
        hint: 'leave its shells first: dpkg in there must not run while its database is rewritten',
      });
    }
    const files = pkgDbFiles(paths);
    const state = pkgDbState(paths);
    if (state === 'host') return { name: options.name, state, written: false };
    if (pendingJournal(files.updatesDir)) {
      throw new VenvError('PKGDB_INTERRUPTED', `a dpkg run in env "${options.name}" was interrupted`, {
        hint: `finish it first: venv run ${options.name} -- dpkg --configure -a`,
      });
    }
    // The host's time first: if the host changes its status while this runs, the base
    // ends up older than it and the next entry warns again.
    const hostTimes = statSync(HOST_STATUS, { bigint: true });
    const hostText = readFileSync(HOST_STATUS, 'utf8');
    const envText = readFileSync(files.envStatus, 'utf8');
    const base = state === 'no-base' ? undefined : readDb(files.base, 'the base of the dpkg database');
    const { stanzas, ...merge } = mergePkgDb(base, parseStatus(hostText), readDb(files.envStatus, 'the dpkg status'));
    if (options.dryRun) return { name: options.name, state, merge, written: false };
    try {
      writeFileSync(files.beforeSync, envText, { mode: 0o644 });
      writeFileSync(`${files.envStatus}.venv-new`, formatStatus(stanzas), { mode: 0o644 });
      writeFileSync(`${files.base}.new`, hostText, { mode: 0o644 });
      // The host's time to the nanosecond (node's utimes rounds to microseconds, and the
      // drift test is "host newer than base"). If the host changed meanwhile, the base
      // gets an old time instead, so that the next entry warns again.
      await run('touch', ['-r', HOST_STATUS, '--', `${files.base}.new`], { failWith: 'IO_FAILED' });
      if (statSync(HOST_STATUS, { bigint: true }).mtimeNs !== hostTimes.mtimeNs) utimesSync(`${files.base}.new`, 0, 0);
      // Status first: should the base not follow, the next sync merges again, to the same result.
      await renameWhileNotEntered(paths.run, options.name, `${files.envStatus}.venv-new`, files.envStatus);
      await renameWhileNotEntered(paths.run, options.name, `${files.base}.new`, files.base);
    } catch (error) {
      if (error instanceof VenvError) throw error;
      throw new VenvError('IO_FAILED', `cannot write the env's dpkg database: ${(error as Error).message}`, {
        hint: `the env's status before the sync is in ${files.beforeSync}`,
        cause: error,
      });
    }
    return { name: options.name, state, merge, written: true };
  });
}

function describeChanges(changes: PackageChange[], show: (c: PackageChange) => string): string[] {
  const shown = changes.slice(0, 20).map((change) => `    ${change.key.replace(/:$/, '')}: ${show(change)}`);
  return changes.length > 20 ? [...shown, `    ... and ${changes.length - 20} more`] : shown;
}

export function formatSyncReport(report: SyncPkgDbReport, dryRun = false): string {
  const { merge, name } = report;
  if (!merge) return `env "${name}" uses the host's package database: nothing to sync\n`;
  const lines = [
    dryRun
      ? `would sync the package database of env "${name}" with the host:`
      : `synced the package database of env "${name}" with the host:`,
    `  taken from the host: ${merge.fromHost.length}`,
    ...describeChanges(merge.fromHost, (c) => `${c.env} -> ${c.host}`),
    `  kept from the env: ${merge.keptFromEnv.length}`,
    ...describeChanges(merge.keptFromEnv, (c) => `${c.env} (host: ${c.host})`),
  ];
  if (merge.conflicts.length > 0) {
    lines.push(`  changed on both sides, the env's state kept: ${merge.conflicts.length}`);
    lines.push(...describeChanges(merge.conflicts, (c) => `env ${c.env}, host ${c.host} (was ${c.base})`));
  }
  if (!merge.hadBase) {
    lines.push(
      '  note: the env kept no base: packages only the host has were taken, so one the env removed may be back',
    );
  }
  return `${lines.join('\n')}\n`;
}
