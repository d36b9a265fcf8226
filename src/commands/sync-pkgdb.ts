// `venv sync-pkgdb NAME`: rebuilds the env's dpkg status as the host's plus the env's own
// installs and removals (pkg/pkgdb-merge.ts), then makes the host's status the new base.
import { closeSync, futimesSync, readFileSync, statSync } from 'node:fs';
import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { formatStatus, parseStatus, type Stanza } from '../pkg/dpkg-status.js';
import { HOST_STATUS, pkgDbFiles, pkgDbState, type PkgDbState } from '../pkg/pkgdb-files.js';
import { mergePkgDb, type MergeResult, type PackageChange } from '../pkg/pkgdb-merge.js';
import { readMeta } from '../store/env-store.js';
import { inUpper, READ_LIMITS, SafeDir, writeAll } from '../store/env-files.js';
import { BASE_STATUS_DIR } from '../pkg/pkgdb-files.js';

export interface SyncPkgDbOptions {
  name: string;
  /** Report what would change, write nothing. */
  dryRun?: boolean;
  home?: string;
  /**
   * Entering an env (pkgdb-follow-main.ts): merge only when there is something to take and
   * nothing to decide (no conflict, a base kept, no dpkg run unfinished), never wait for
   * another venv command, and skip rather than fail when the env is in use.
   */
  onlyIfClean?: boolean;
}

/** Why an `onlyIfClean` sync wrote nothing. */
export type SkipReason = 'nothing-changed' | 'no-base' | 'interrupted' | 'conflicts';

export interface SyncPkgDbReport {
  name: string;
  /** The state before the sync. */
  state: PkgDbState;
  /** Undefined when the env has no database of its own (it sees the host's: nothing to do). */
  merge?: Omit<MergeResult, 'stanzas'>;
  written: boolean;
  /** Set when `onlyIfClean` left the database as it was. */
  skipped?: SkipReason;
}

/** Parses a status file's text; `path` and `what` say which in a failure. */
function parseDb(text: string, path: string, what: string): Map<string, Stanza> {
  try {
    return parseStatus(text);
  } catch (error) {
    throw new VenvError('IO_FAILED', `cannot read ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads a file of the upper dir's /var/lib/...: never through a link, at most READ_LIMITS.dpkgStatus. */
function readUpperFile(dir: SafeDir, name: string, what: string): string {
  try {
    return dir.read(name, READ_LIMITS.dpkgStatus);
  } catch (error) {
    if (error instanceof VenvError) throw error;
    throw new VenvError('IO_FAILED', `cannot read ${what} ${dir.path}/${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * dpkg's journal entries are files named by number, applied before the status is read.
 * Only the env's own count: a whiteout there is an entry of the host's that the env's
 * dpkg applied and removed (the host ran dpkg at the same moment).
 */
function pendingJournal(dpkgDir: SafeDir): boolean {
  try {
    const updates = dpkgDir.dir('updates');
    try {
      return updates.list().some((name) => /^\d+$/.test(name) && updates.lstat(name)?.isFile());
    } finally {
      updates.close();
    }
  } catch (error) {
    if (error instanceof VenvError) throw error;
    return false;
  }
}

export async function syncPkgDb(options: SyncPkgDbOptions): Promise<SyncPkgDbReport> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  if (meta.base !== undefined)
    throw new VenvError('USAGE', `env "${options.name}" stands on base ${meta.base}, not on the host's packages`, {
      hint: "its package database is the base's own: there is nothing of the host's to take in",
    });
  const paths = envPaths(options.name, home);
  const auto = options.onlyIfClean === true;
  const skip = (state: PkgDbState, skipped: SkipReason): SyncPkgDbReport => ({
    name: options.name,
    state,
    written: false,
    skipped,
  });
  // Under the start mutex with nothing of the env running (refused, ENV_BUSY, if it is):
  // dpkg in there must not run while its database is rewritten, and no session can start
  // the env meanwhile. A session that wants to enter waits for the mutex.
  return withEnvLock(
    paths.lockTarget,
    options.name,
    () =>
      withEnvExclusive(paths, home, {}, async () => {
        const files = pkgDbFiles(paths);
        const state = pkgDbState(paths);
        if (state === 'host') return { name: options.name, state, written: false };
        if (auto && state !== 'host-changed') return skip(state, state === 'no-base' ? 'no-base' : 'nothing-changed');
        // Every file below is opened through env-files (store/env-files.ts): the upper dir may
        // come from an archive, and a link there must not make venv write a file of the user's.
        const dirs: SafeDir[] = [];
        const open = (rel: string, create = false) => {
          const dir = SafeDir.open(...inUpper(paths.upper, rel), create ? { create: 0o755 } : {});
          dirs.push(dir);
          return dir;
        };
        try {
          const dpkgDir = open('/var/lib/dpkg');
          if (pendingJournal(dpkgDir)) {
            if (auto) return skip(state, 'interrupted');
            throw new VenvError('PKGDB_INTERRUPTED', `a dpkg run in env "${options.name}" was interrupted`, {
              hint: `finish it first: venv run ${options.name} -- dpkg --configure -a`,
            });
          }
          // The host's time first: if the host changes its status while this runs, the base
          // ends up older than it and the next entry warns again.
          const hostTimes = statSync(HOST_STATUS, { bigint: true });
          const hostText = readFileSync(HOST_STATUS, 'utf8');
          const envText = readUpperFile(dpkgDir, 'status', 'the dpkg status');
          const baseDir = open(BASE_STATUS_DIR, state === 'no-base');
          const base =
            state === 'no-base'
              ? undefined
              : parseDb(
                  readUpperFile(baseDir, 'dpkg-status.base', 'the base'),
                  files.base,
                  'the base of the dpkg database',
                );
          const envDb = parseDb(envText, files.envStatus, 'the dpkg status');
          const { stanzas, ...merge } = mergePkgDb(base, parseStatus(hostText), envDb);
          if (options.dryRun) return { name: options.name, state, merge, written: false };
          if (auto && merge.conflicts.length > 0) return { ...skip(state, 'conflicts'), merge };
          try {
            baseDir.write('dpkg-status.before-sync', envText, { mode: 0o644 });
            dpkgDir.write('status.venv-new', formatStatus(stanzas), { mode: 0o644 });
            const newBase = baseDir.openForWrite('dpkg-status.base.new', { mode: 0o644 }, 0);
            try {
              writeAll(newBase, hostText);
              // The host's time to the nanosecond (node's utimes rounds to microseconds, and the
              // drift test is "host newer than base"), set through the open file. If the host
              // changed meanwhile, the base gets an old time instead, so that the next entry warns again.
              await run('touch', ['-r', HOST_STATUS, '--', `/proc/${process.pid}/fd/${newBase}`], {
                failWith: 'IO_FAILED',
              });
              if (statSync(HOST_STATUS, { bigint: true }).mtimeNs !== hostTimes.mtimeNs) futimesSync(newBase, 0, 0);
            } finally {
              closeSync(newBase);
            }
            // Status first: should the base not follow, the next sync merges again, to the same result.
            dpkgDir.rename('status.venv-new', 'status');
            baseDir.rename('dpkg-status.base.new', 'dpkg-status.base');
          } catch (error) {
            if (error instanceof VenvError) throw error;
            throw new VenvError('IO_FAILED', `cannot write the env's dpkg database: ${(error as Error).message}`, {
              hint: `the env's status before the sync is in ${files.beforeSync}`,
              cause: error,
            });
          }
          return { name: options.name, state, merge, written: true };
        } finally {
          for (const dir of dirs) dir.close();
        }
      }),
    { noWait: auto },
  );
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
