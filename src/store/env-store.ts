// The envs on disk: creating, reading, listing and removing them. See paths.ts for the
// layout. Creation is all-or-nothing: built under a hidden name, then renamed into place.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertValidEnvName, isValidEnvName } from './env-name.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { chooseMapping, findProgram, type Mapping } from '../host/host-checks.js';
import { bindsFstab, readOnlyMountsFor } from '../runtime/mount-plan.js';
import { type EnvPaths, envPaths, envsDir, venvHome } from './paths.js';

export interface EnvMeta {
  version: 1;
  name: string;
  created: string;
  /** How ids are mapped inside; fixed at creation, because the upper dir's owners depend on it. */
  mapping: Mapping;
}

export async function envExists(name: string, home = venvHome()): Promise<boolean> {
  try {
    await readFile(envPaths(name, home).meta);
    return true;
  } catch {
    return false;
  }
}

export async function readMeta(name: string, home = venvHome()): Promise<EnvMeta> {
  assertValidEnvName(name);
  const paths = envPaths(name, home);
  let text: string;
  try {
    text = await readFile(paths.meta, 'utf8');
  } catch {
    throw new VenvError('ENV_NOT_FOUND', `no env named "${name}" in ${envsDir(home)}`, {
      hint: `create it with "venv create ${name}", or see "venv list"`,
    });
  }
  try {
    const meta = JSON.parse(text) as EnvMeta;
    if (meta.version !== 1 || !['auto', 'single', 'host'].includes(meta.mapping)) throw new Error('unknown format');
    return meta;
  } catch (error) {
    throw new VenvError('ENV_CORRUPT', `env "${name}" has an unreadable ${paths.meta}`, {
      hint: `remove it with "venv rm --force ${name}"`,
      cause: error,
    });
  }
}

/**
 * The version of the runtime files below. bin/venv takes its fast path only for an env
 * whose run/mapping names this version (keep the two in step): an env whose files an
 * older venv wrote goes through node once, which writes them anew. 2: /run is a tmpfs.
 */
export const RUNTIME_LAYOUT = 2;

/** Writes the files the shell side reads on every entry (it must not need node). */
export async function writeRuntimeFiles(paths: EnvPaths, meta: EnvMeta, finalMerged = paths.merged): Promise<void> {
  // Not recursive: an env that venv rm took away meanwhile must not get its directory back.
  await mkdir(paths.run, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const readOnly =
    meta.mapping === 'host' ? readOnlyMountsFor(await readFile('/proc/self/mountinfo', 'utf8'), paths.dir) : [];
  await writeFile(paths.bindsFstab, bindsFstab(finalMerged, undefined, readOnly));
  // Last: the fast path trusts the rest once this names the current layout.
  await writeFile(join(paths.run, 'mapping'), `${meta.mapping} ${RUNTIME_LAYOUT}\n`);
}

/**
 * Lays out a new env at `paths.dir` (which must not exist yet); `finalMerged` is where
 * the merged dir will be once the caller renamed the staging dir into place.
 */
export async function layOutEnv(paths: EnvPaths, meta: EnvMeta, finalMerged = paths.merged): Promise<void> {
  await mkdir(paths.dir, { mode: 0o700 });
  for (const sub of [paths.upper, paths.work, paths.merged]) await mkdir(sub, { mode: 0o755 });
  await writeRuntimeFiles(paths, meta, finalMerged);
  await writeFile(paths.meta, `${JSON.stringify(meta, null, 2)}\n`);
}

export async function createEnv(name: string, home = venvHome()): Promise<EnvMeta> {
  assertValidEnvName(name);
  const paths = envPaths(name, home);
  if (await envExists(name, home)) {
    throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, {
      hint: `enter it with "venv shell ${name}", or remove it with "venv rm ${name}"`,
    });
  }
  await mkdir(envsDir(home), { recursive: true, mode: 0o700 });
  await chmod(home, 0o700).catch(() => undefined);
  const meta: EnvMeta = { version: 1, name, created: new Date().toISOString(), mapping: chooseMapping() };
  const staging = envPaths(`.new-${name}-${randomBytes(4).toString('hex')}`, home);
  try {
    await layOutEnv(staging, meta, paths.merged);
    // Before anything enters it: later, fuse-overlayfs' copies make the upper dir's
    // directories belong to subordinate ids (see pkg/prepare-env.ts).
    const { prepareEnvForPackages } = await import('../pkg/prepare-env.js');
    await prepareEnvForPackages(staging, meta.mapping);
    await rename(staging.dir, paths.dir);
  } catch (error) {
    await rm(staging.dir, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, { cause: error });
    }
    throw new VenvError('IO_FAILED', `cannot create env "${name}": ${(error as Error).message}`, { cause: error });
  }
  return meta;
}

export async function listEnvNames(home = venvHome()): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(envsDir(home));
  } catch {
    return [];
  }
  return entries.filter((entry) => isValidEnvName(entry)).sort();
}

/**
 * Deletes an env directory. Files chowned inside the env belong to subordinate ids on
 * the host, which the user cannot delete from outside: delete from inside a user
 * namespace with the same mapping, where they belong to mapped ids.
 */
export async function removeTree(dir: string, mapping: Mapping, signal?: AbortSignal): Promise<void> {
  if (mapping === 'auto' && findProgram('unshare')) {
    const result = await run('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', '--', dir], {
      signal,
    });
    if (result.exitCode === 0) return;
  }
  // Aborted: what is left stays for whoever removes it next (a half-deleted tree).
  signal?.throwIfAborted();
  // fuse-overlayfs leaves a mode-000 directory in the work dir.
  await run('chmod', ['-R', 'u+rwx', '--', dir], { signal });
  signal?.throwIfAborted();
  await rm(dir, { recursive: true, force: true });
}
