// Bases: root file systems an env stands on instead of the host's / (`venv create NAME
// --base SOURCE`). Imported once (bases/import-base.ts), stored by content and shared by
// every env made from the same source, never written after the import:
//
//   bases/ID/tree        the root file system, owners through the subordinate ids (as an
//                        env's upper dir holds them), the lowest layer of the overlay
//   bases/ID/base.json   what it was made from and the image's defaults (BaseMeta)
//
// ID is the first 16 hex digits of the source's sha256 (the manifest's for an OCI image, the
// file's for a tarball, the canonical tar stream's for a directory). A base is removed when
// no env names it any more (sweepBases, after `venv rm`), or by `venv bases rm`.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { READ_LIMITS, readEnvFile } from './env-files.js';

export const BASE_ID = /^[0-9a-f]{16}$/;
/** A full digest, as OCI writes them. */
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

export type BaseKind = 'directory' | 'tarball' | 'oci-layout' | 'oci-archive' | 'docker-archive';

/** The image config's defaults for every command in an env on the base (none for a plain tree). */
export interface BaseConfig {
  /** "KEY=VALUE", as in the OCI config. */
  env: string[];
  workingDir: string;
  user: string;
}

export interface BaseMeta {
  version: 1;
  id: string;
  digest: string;
  kind: BaseKind;
  /** The source as given (made absolute), for the user to recognise it. */
  source: string;
  imported: string;
  /** Bytes of the regular files its layers held (a file replaced by a later layer counts twice). */
  bytes: number;
  config: BaseConfig;
}

export function basesDir(home: string): string {
  return join(home, 'bases');
}

export function baseDir(home: string, id: string): string {
  return join(basesDir(home), id);
}

export function baseTree(home: string, id: string): string {
  return join(baseDir(home, id), 'tree');
}

/** A base's tree, relative to an env dir (the overlay's options are relative paths there). */
export function baseFromEnvDir(id: string): string {
  return `../../bases/${id}/tree`;
}

export function idOfDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 16);
}

/** env.json's `base` (absent: the host's /); throws on anything else. */
export function readBase(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !BASE_ID.test(value)) throw new Error('bad base');
  return value;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names session.sh reads from run/base.env for itself: never taken from an image's Env. */
const OWN_NAMES = new Set(['VENV_WORKDIR', 'VENV_BASE_USER', 'VENV_USER_OPTION', 'VENV_AS']);
/**
 * Names that would steer venv's side of the entry rather than the image's programs:
 * session.sh exports the Env before it runs venv-enter (or nsenter and chroot), host
 * programs, so neither the shell's own variables (IFS splits its words) nor those glibc
 * reads in every host program (the ones it drops for setuid programs) come from an image.
 */
const STEERING_NAMES = new Set([
  'IFS',
  'ENV',
  'BASH_ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'CDPATH',
  'GLIBC_TUNABLES',
  'GCONV_PATH',
  'GETCONF_DIR',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'MALLOC_TRACE',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
]);

/**
 * A user to run as, as an image's User or `--user` gives it: USER or USER:GROUP, each a name
 * or a number, looked up in the env when it is entered (src/native/enter/switch-user.c).
 */
export const USER_SPEC = /^[^:,|\s\0]{1,64}(:[^:,|\s\0]{1,64})?$/;

/**
 * The image's Env as the shell side exports it (run/base.env, one KEY=VALUE a line):
 * names a shell can export, no newline in a value. LD_* and the steering names above are
 * left out: they would act on venv's own helper (venv-enter runs on the host side before
 * its chroot) or on session.sh itself.
 */
export function runtimeBaseEnv(config: BaseConfig | undefined): string {
  if (!config) return '';
  const lines = config.env.filter((pair) => {
    const name = pair.slice(0, pair.indexOf('='));
    return (
      pair.includes('=') &&
      ENV_NAME.test(name) &&
      !name.startsWith('LD_') &&
      !OWN_NAMES.has(name) &&
      !STEERING_NAMES.has(name) &&
      !/[\n\0]/.test(pair)
    );
  });
  if (config.workingDir.startsWith('/') && !/[\n\0]/.test(config.workingDir))
    lines.push(`VENV_WORKDIR=${config.workingDir}`);
  // The image's User, applied on entry unless --user says otherwise; one venv could not
  // look up (bad form) is left out, and the env is entered as root, as before.
  if (USER_SPEC.test(config.user)) lines.push(`VENV_BASE_USER=${config.user}`);
  return lines.map((line) => `${line}\n`).join('');
}

export function readBaseMeta(home: string, id: string): BaseMeta | undefined {
  const text = readEnvFile(baseDir(home, id), 'base.json', READ_LIMITS.meta);
  if (text === undefined) return undefined;
  const meta = JSON.parse(text) as BaseMeta;
  if (meta.version !== 1 || meta.id !== id) throw new Error(`bases/${id}/base.json is not a base's`);
  return meta;
}

/** The ids of the bases stored (complete ones: a base.json and a tree). */
export function storedBases(home: string): string[] {
  let names: string[];
  try {
    names = readdirSync(basesDir(home));
  } catch {
    return [];
  }
  return names
    .filter((name) => BASE_ID.test(name))
    .filter((id) => {
      try {
        return lstatSync(join(baseDir(home, id), 'base.json')).isFile() && lstatSync(baseTree(home, id)).isDirectory();
      } catch {
        return false;
      }
    })
    .sort();
}
