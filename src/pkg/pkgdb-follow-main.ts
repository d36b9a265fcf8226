// pkgdb-follow-main.js ENV_DIR: run by session.sh on entry when the host's dpkg status is
// newer than the base the env kept and the env's setting is `pkgdb-sync auto`
// (store/env-settings.ts). Merges the host's package changes in as `venv sync-pkgdb` does,
// but only when no session is inside and the merge has nothing to decide, and then says so
// in one line on stderr. Otherwise it writes nothing and says nothing: session.sh's drift
// warning follows, as with `manual`. Always exits 0: entering must not fail because of it.
import { closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VenvError } from '../errors.js';
import { syncPkgDb } from '../commands/sync-pkgdb.js';
import { run } from '../host/exec.js';
import { SafeDir } from '../store/env-files.js';
import { checkVenvHome } from '../store/home-trust.js';
import { HOST_STATUS } from './pkgdb-files.js';

/**
 * Left in run/ when the merge had something to decide: it has the host status's time (to
 * the nanosecond), and session.sh tries again only once the host's status is newer, so
 * that an env with a conflict does not pay a node start on every entry until it is synced.
 */
const DECLINED_FILE = 'pkgdb-follow.declined';

async function rememberDeclined(runDir: string): Promise<void> {
  const dir = SafeDir.open(runDir);
  try {
    const fd = dir.openForWrite(DECLINED_FILE, { mode: 0o644 }, 0);
    try {
      await run('touch', ['-r', HOST_STATUS, '--', `/proc/${process.pid}/fd/${fd}`], { failWith: 'IO_FAILED' });
    } finally {
      closeSync(fd);
    }
  } finally {
    dir.close();
  }
}

const envDir = process.argv[2];
/** Set by session.sh's caller for --quiet (runtime/enter-env.ts). */
const quiet = process.env.VENV_QUIET === '1';

async function follow(dir: string): Promise<string | undefined> {
  const name = basename(dir);
  // ENV_DIR is VENV_HOME/envs/NAME. bin/venv's fast path checked less of VENV_HOME than
  // the CLI does: nothing is written before the whole check has passed.
  const home = checkVenvHome(dirname(dirname(dir)));
  const report = await syncPkgDb({ name, home, onlyIfClean: true });
  if (report.skipped && report.skipped !== 'nothing-changed') await rememberDeclined(join(dir, 'run'));
  if (!report.written || !report.merge) return undefined;
  const { fromHost, keptFromEnv } = report.merge;
  // The host's status changed but no package of it differs from what the env has: only
  // the base moved on, and the env's packages are as they were. Nothing worth a line.
  if (fromHost.length === 0) return undefined;
  const packages = (n: number) => `${n} package${n === 1 ? '' : 's'}`;
  return (
    `venv: took the host's package changes into env "${name}" (${packages(fromHost.length)} from the host, ` +
    `${packages(keptFromEnv.length)} kept from the env; "venv config ${name} --pkgdb-sync manual" turns this off)\n`
  );
}

if (envDir) {
  try {
    const line = await follow(envDir);
    if (line && !quiet) process.stderr.write(line);
  } catch (error) {
    // In use (another session got in first), locked by another venv command: the warning
    // that follows says what to do. Anything else is worth a line of its own.
    const expected = error instanceof VenvError && ['ENV_BUSY', 'ENV_LOCKED'].includes(error.code);
    if (!expected && !quiet)
      process.stderr.write(`venv: warning: could not merge the host's package changes: ${(error as Error).message}\n`);
  }
}
