// Where an env's package database lives and whether the host's changed under it.
//
// While the env has not changed dpkg's database it sees the host's, live. The first dpkg
// run that changes it writes the env's own /var/lib/dpkg/status into the upper dir, which
// hides the host's from then on. Just before that, a dpkg hook (dpkgHookConfig, installed
// by prepare-env.ts) copies the host's status, with its time, to BASE_STATUS: the base of
// sync-pkgdb's three-way merge. The host has changed packages since when its status is
// newer than the base; session.sh makes the same test on entry (keep the two in step).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { inUpper, lstatEnvFileBigint } from '../store/env-files.js';
import type { EnvPaths } from '../store/paths.js';

export const HOST_STATUS = '/var/lib/dpkg/status';
export const BASE_STATUS_DIR = '/var/lib/venv';
export const BASE_STATUS = `${BASE_STATUS_DIR}/dpkg-status.base`;
export const DPKG_HOOK_FILE = '/etc/dpkg/dpkg.cfg.d/venv-pkgdb-base';

/**
 * Where the env sees the host's dpkg database (runtime/private-run.sh binds them at each
 * start of the env): the host's /var/lib/dpkg, live and read-only, and the host's status
 * file as it was when the env started (a bind keeps that very inode).
 */
export const HOST_DPKG_VIEW = { dir: '/run/.venv-host-dpkg', statusAtStart: '/run/.venv-host-dpkg-status' };

/**
 * dpkg runs pre-invoke hooks (with sh -c) before it unpacks, configures or removes
 * anything. Two, in this order:
 * - The guard: dpkg replaces its status file on every run, so when the host's is no
 *   longer the one the env started with, the host changed packages under the open env.
 *   Overlays do not support a lower layer that changes: dpkg inside then fails with odd
 *   errors (6 runs in 30 here while the host ran dpkg) or works on a stale view. Refuse,
 *   saying what to do. An env started by an older venv has no view: no check.
 * - The base: the first one to find no base copies the status it is about to change.
 *   A failure to copy must not stop dpkg: sync-pkgdb then merges without a base.
 */
export function dpkgHookConfig(view = HOST_DPKG_VIEW): string {
  const guard =
    `[ ! -e ${view.statusAtStart} ] || [ ${view.dir}/status -ef ${view.statusAtStart} ] || ` +
    `{ echo "venv: the host changed its packages while this env is open: dpkg here would work on a stale view of them." >&2; ` +
    `echo "hint: leave every shell of the env and enter it again (then run venv sync-pkgdb if venv says so)" >&2; exit 1; }`;
  return [
    '# Written by venv (docs/packages.md). First: refuses to run while the host has changed',
    '# its packages under this open env. Then: keeps the dpkg status this env started from,',
    '# the base of "venv sync-pkgdb", before dpkg first changes the database here.',
    `pre-invoke=${guard}`,
    `pre-invoke=[ -e ${BASE_STATUS} ] || { cp -p ${HOST_STATUS} ${BASE_STATUS}.new && mv ${BASE_STATUS}.new ${BASE_STATUS}; } || true`,
    '',
  ].join('\n');
}

export interface PkgDbFiles {
  /** The env's own status in its upper dir (absent while it sees the host's). */
  envStatus: string;
  base: string;
  /** dpkg's journal: entries here mean a dpkg run in the env was interrupted. */
  updatesDir: string;
  /** The env's status before the last sync, kept for recovery. */
  beforeSync: string;
}

export function pkgDbFiles(paths: EnvPaths): PkgDbFiles {
  return {
    envStatus: join(paths.upper, HOST_STATUS),
    base: join(paths.upper, BASE_STATUS),
    updatesDir: join(paths.upper, '/var/lib/dpkg/updates'),
    beforeSync: join(paths.upper, BASE_STATUS_DIR, 'dpkg-status.before-sync'),
  };
}

/**
 * host          the env has no database of its own: it sees the host's
 * own           it has its own, and the host's has not changed since it was copied
 * host-changed  the host's changed since: sync-pkgdb merges the two
 * no-base       it has its own but no base was kept: changes cannot be told (sync-pkgdb merges two-way)
 */
/** `base`: an env on a base (create --base), whose database is the base's own: no host's to follow. */
export type PkgDbState = 'host' | 'own' | 'host-changed' | 'no-base' | 'base';

function mtimeNs(path: string): bigint | undefined {
  try {
    return statSync(path, { bigint: true }).mtimeNs;
  } catch {
    return undefined;
  }
}

/** The entry's own time, never through a symlink (store/env-files.ts). */
function upperMtimeNs(paths: EnvPaths, path: string): bigint | undefined {
  return lstatEnvFileBigint(...inUpper(paths.upper, path))?.mtimeNs;
}

export function pkgDbState(paths: EnvPaths, hostStatus = HOST_STATUS, onBase = false): PkgDbState {
  if (onBase) return 'base';
  if (upperMtimeNs(paths, HOST_STATUS) === undefined) return 'host';
  const base = upperMtimeNs(paths, BASE_STATUS);
  if (base === undefined) return 'no-base';
  const host = mtimeNs(hostStatus);
  return host !== undefined && host > base ? 'host-changed' : 'own';
}

export const PKGDB_STATE_TEXT: Record<PkgDbState, string> = {
  host: "uses the host's package database",
  own: 'has its own package database; the host has not changed packages since it was copied',
  'host-changed': 'host packages changed since this env copied the dpkg database',
  'no-base': 'has its own package database, but its starting point was not kept: host changes cannot be detected',
  base: "stands on a base: its package database is the base's, and the host's packages do not concern it",
};
