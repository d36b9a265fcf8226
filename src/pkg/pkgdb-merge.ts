// The three-way merge behind `venv sync-pkgdb`: the env's copy of dpkg's status hides the
// host's, so packages the host installed or upgraded after the env first changed its
// database are missing or old inside. Rebuilt here as the host's state plus what the env
// itself changed, package by package, against the base (the host's status when the env
// first changed it). Pure.
import { describeStanza, type Stanza } from './dpkg-status.js';

export interface PackageChange {
  key: string;
  /** How the package looked in the base, the host now and the env now (see describeStanza). */
  base: string;
  host: string;
  env: string;
}

export interface MergeResult {
  /** The merged database, to be written with formatStatus. */
  stanzas: Stanza[];
  /** Host changes taken into the env. */
  fromHost: PackageChange[];
  /** The env's own changes, kept. */
  keptFromEnv: PackageChange[];
  /** Changed on both sides in different ways: the env's state is kept (its files are in its upper dir). */
  conflicts: PackageChange[];
  /** False when no base was recorded: then every difference counts as the env's own (see mergePkgDb). */
  hadBase: boolean;
}

function same(a: Stanza | undefined, b: Stanza | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.text === b.text);
}

/**
 * Per package (name and architecture): unchanged in the env -> the host's state (which may
 * be "absent": the host removed it); unchanged on the host -> the env's; changed alike ->
 * that; changed differently -> a conflict, resolved for the env, because what the env
 * installed or removed is what its upper dir holds and a host version would not match
 * the files the env sees.
 *
 * Without a base (the env's database changed by something that skipped the dpkg hook),
 * packages only the host has are taken from the host and every other difference is kept
 * as the env's: a package the env removed may come back, nothing the env installed is lost.
 */
export function mergePkgDb(
  base: Map<string, Stanza> | undefined,
  host: Map<string, Stanza>,
  env: Map<string, Stanza>,
): MergeResult {
  const result: MergeResult = {
    stanzas: [],
    fromHost: [],
    keptFromEnv: [],
    conflicts: [],
    hadBase: base !== undefined,
  };
  const keys = new Set([...(base?.keys() ?? []), ...host.keys(), ...env.keys()]);
  for (const key of keys) {
    const b = base?.get(key);
    const h = host.get(key);
    const e = env.get(key);
    const change = (): PackageChange => ({
      key,
      base: base ? describeStanza(b) : 'unknown',
      host: describeStanza(h),
      env: describeStanza(e),
    });
    let chosen: Stanza | undefined;
    if (same(h, e)) {
      chosen = e;
    } else if (base === undefined) {
      chosen = e ?? h;
      (e ? result.keptFromEnv : result.fromHost).push(change());
    } else if (same(e, b)) {
      chosen = h;
      result.fromHost.push(change());
    } else if (same(h, b)) {
      chosen = e;
      result.keptFromEnv.push(change());
    } else {
      chosen = e;
      result.conflicts.push(change());
    }
    if (chosen) result.stanzas.push(chosen);
  }
  return result;
}
