// The envs on disk: creating, reading, listing and removing them. See paths.ts for the
// layout. Creation is all-or-nothing: built under a hidden name, then renamed into place.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { chmod, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type BackendName, isBackendName, legacyBackend } from '../backends/backend.js';
import { chooseBackend } from '../backends/choose-backend.js';
import { assertValidEnvName, isValidEnvName } from './env-name.js';
import { VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { chooseMapping, findProgram, type Mapping } from '../host/host-checks.js';
import { bindsFstab, readOnlyMountsFor } from '../runtime/mount-plan.js';
import { type EnvPaths, envPaths, envsDir, venvHome } from './paths.js';
import { READ_LIMITS, readEnvFile, SafeDir } from './env-files.js';
import { DEFAULT_SETTINGS, type EnvSettings, readSettings, runtimeSettings } from './env-settings.js';
import { readLayers, runtimeLowers } from './layers.js';
import { baseFromEnvDir, basesDir, baseTree, readBase, readBaseMeta, runtimeBaseEnv } from './bases.js';

export interface EnvMeta {
  version: 1;
  name: string;
  created: string;
  /** How ids are mapped inside; fixed at creation, because the upper dir's owners depend on it. */
  mapping: Mapping;
  /**
   * How its root is mounted (backends/backend.ts); fixed at creation, because the upper
   * dir's form depends on it. Absent in envs made before there was a choice: see legacyBackend.
   */
  backend: BackendName;
  /** What it shares with the host and its network (env-settings.ts); `venv config` changes them. */
  settings: EnvSettings;
  /**
   * The layers below its upper dir and above the host's /, top first (layers.ts): what
   * the env it was stacked on (`--from`) had changed. Fixed but for stacking.
   */
  layers: string[];
  /**
   * The base it stands on instead of the host's / (bases.ts, `create --base`), absent for
   * most envs. Fixed at creation.
   */
  base?: string;
}

export async function envExists(name: string, home = venvHome()): Promise<boolean> {
  try {
    return readEnvFile(envPaths(name, home).dir, 'env.json', READ_LIMITS.meta) !== undefined;
  } catch (error) {
    // A refused env.json (a symlink, a FIFO, ...) is there, but not to be read.
    if (error instanceof VenvError) throw error;
    return false;
  }
}

export async function readMeta(name: string, home = venvHome()): Promise<EnvMeta> {
  assertValidEnvName(name);
  const paths = envPaths(name, home);
  let text: string | undefined;
  try {
    text = readEnvFile(paths.dir, 'env.json', READ_LIMITS.meta);
  } catch (error) {
    if (error instanceof VenvError) throw error;
  }
  if (text === undefined) {
    throw new VenvError('ENV_NOT_FOUND', `no env named "${name}" in ${envsDir(home)}`, {
      hint: `create it with "venv create ${name}", or see "venv list"`,
    });
  }
  try {
    const meta = JSON.parse(text) as Omit<EnvMeta, 'backend' | 'settings' | 'layers' | 'base'> & {
      backend?: unknown;
      settings?: unknown;
      layers?: unknown;
      base?: unknown;
    };
    if (meta.version !== 1 || !['auto', 'single', 'host'].includes(meta.mapping)) throw new Error('unknown format');
    if (meta.backend !== undefined && !isBackendName(meta.backend)) throw new Error('unknown backend');
    // Absent in envs made before there were settings: the defaults, which is how they ran.
    const settings = readSettings(meta.settings);
    const layers = readLayers(meta.layers);
    const base = readBase(meta.base);
    // `base` as read (unknown) gives way to the checked value.
    const rest: Omit<typeof meta, 'base'> & { base?: unknown } = { ...meta };
    delete rest.base;
    return {
      ...(rest as Omit<typeof meta, 'base'>),
      backend: meta.backend ?? legacyBackend(meta.mapping),
      settings,
      layers,
      ...(base === undefined ? {} : { base }),
    };
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
 * 3: run/mapping names the backend too ("MAPPING LAYOUT BACKEND"), which keeper.sh reads;
 * written only after node checked VENV_HOME (home-trust.ts), which the fast path relies on.
 * 4: the env's own /proc and /home (binds.fstab binds the caller's home, not /home).
 * 5: run/base.env names the image's User (VENV_BASE_USER), which session.sh applies.
 */
export const RUNTIME_LAYOUT = 5;

/** The most a runtime file venv writes may hold (binds.fstab lists every read-only mount as real root). */
const RUNTIME_FILE_LIMIT = 1 << 20;

/** The env's own /home when it does not share the host's (env-settings.ts), in its env dir. */
export const PRIVATE_HOME = 'home';

/** Writes the files the shell side reads on every entry (it must not need node). */
export async function writeRuntimeFiles(paths: EnvPaths, meta: EnvMeta, finalMerged = paths.merged): Promise<void> {
  const readOnly =
    // Real root's overlay of / shows only the root filesystem: the host's other mounts are
    // bound read-only into it. An env on a base has the base's tree instead of /.
    meta.mapping === 'host' && meta.base === undefined
      ? readOnlyMountsFor(await readFile('/proc/self/mountinfo', 'utf8'), paths.dir)
      : [];
  const run = SafeDir.open(paths.dir, 'run', { create: 0o700 });
  // Another session may be starting the env and reading them right now (keeper.sh): each
  // file changes in one step, and only when its content does.
  const put = (name: string, content: string) => {
    if (run.readIfExists(name, RUNTIME_FILE_LIMIT) !== content) run.replace(name, content);
  };
  const privateHome = join(dirname(finalMerged), PRIVATE_HOME);
  const home = dirname(dirname(dirname(finalMerged)));
  // On a base, the shared directories are mounted on the base's tree (import-base.ts made
  // their mount points), and the store of bases, where the env sees it, is read-only.
  const onBase = meta.base === undefined ? undefined : { store: basesDir(home) };
  try {
    put(
      'binds.fstab',
      bindsFstab(finalMerged, undefined, readOnly, ownHome(), { share: meta.settings.share, privateHome }, onBase),
    );
    // The base's tree for the backend's mount, and its image's Env, WorkingDir and User for
    // session.sh; neither file for an env on the host's /.
    if (meta.base !== undefined) {
      put('base', `${baseFromEnvDir(meta.base)}\n`);
      put('base.env', runtimeBaseEnv(readBaseMeta(home, meta.base)?.config));
    } else {
      run.unlink('base');
      run.unlink('base.env');
    }
    // Read by the shell side at each start of the env (net, /run, volumes).
    put('settings', runtimeSettings(meta.settings));
    // The layers below the upper dir, for the backend's mount (relative to the env dir).
    put('lowers', runtimeLowers(meta.layers));
    // Last: the fast path trusts the rest once this names the current layout.
    put('mapping', `${meta.mapping} ${RUNTIME_LAYOUT} ${meta.backend}\n`);
  } finally {
    run.close();
  }
}

/** The caller's home as the password database has it (not $HOME, which varies by caller). */
function ownHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}

/**
 * Lays out a new env at `paths.dir` (which must not exist yet); `finalMerged` is where
 * the merged dir will be once the caller renamed the staging dir into place.
 */
export async function layOutEnv(paths: EnvPaths, meta: EnvMeta, finalMerged = paths.merged): Promise<void> {
  await mkdir(paths.dir, { mode: 0o700 });
  const dir = SafeDir.open(paths.dir);
  try {
    for (const sub of ['upper', 'work', 'merged']) mkdirSync(dir.at(sub), { mode: 0o755 });
    preparePrivateHome(dir, meta.settings);
    await writeRuntimeFiles(paths, meta, finalMerged);
    dir.write('env.json', `${JSON.stringify(meta, null, 2)}\n`, { exclusive: true });
  } finally {
    dir.close();
  }
}

/**
 * The env's own /home, for settings that do not share the host's: made when missing, with
 * the caller's home directory in it (empty), so that a shell starts there. Opened without
 * following a symlink: the env writes into it.
 */
export function preparePrivateHome(envDir: SafeDir, settings: EnvSettings): void {
  if (settings.share.includes('home')) return;
  const userHome = process.env.HOME ?? '';
  const name = /^\/home\/([^/]+)\/?$/.exec(userHome)?.[1];
  const rel = name && name !== '.' && name !== '..' ? `${PRIVATE_HOME}/${name}` : PRIVATE_HOME;
  envDir.dir(rel, { create: 0o755 }).close();
}

/** What a new env is made with on this machine: the id mapping and the backend it can run. */
export function newEnvMeta(name: string, home: string, backend?: string, settings = DEFAULT_SETTINGS): EnvMeta {
  const mapping = chooseMapping();
  return {
    version: 1,
    name,
    created: new Date().toISOString(),
    mapping,
    backend: chooseBackend(mapping, home, backend).backend,
    settings,
    layers: [],
  };
}

/** What a stacked env takes from the env it is stacked on: its layers' form and owners. */
export type StackedOn = Pick<EnvMeta, 'mapping' | 'backend' | 'layers' | 'base'>;

/** Replaces env.json in one step (its readers never see half of it). */
export function writeMeta(paths: EnvPaths, meta: EnvMeta): void {
  const dir = SafeDir.open(paths.dir);
  try {
    dir.replace('env.json', `${JSON.stringify(meta, null, 2)}\n`);
  } finally {
    dir.close();
  }
}

export async function createEnv(
  name: string,
  home = venvHome(),
  backend?: string,
  settings = DEFAULT_SETTINGS,
  stackedOn?: StackedOn,
  base?: string,
): Promise<EnvMeta> {
  assertValidEnvName(name);
  const paths = envPaths(name, home);
  if (await envExists(name, home)) {
    throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, {
      hint: `enter it with "venv shell ${name}", or remove it with "venv rm ${name}"`,
    });
  }
  await mkdir(envsDir(home), { recursive: true, mode: 0o700 });
  await chmod(home, 0o700).catch(() => undefined);
  const meta: EnvMeta = stackedOn
    ? {
        ...newEnvMeta(name, home, stackedOn.backend, settings),
        // Only these: the env it was stacked on passes its whole meta (its name too).
        mapping: stackedOn.mapping,
        layers: stackedOn.layers,
        ...(stackedOn.base === undefined ? {} : { base: stackedOn.base }),
      }
    : { ...newEnvMeta(name, home, backend, settings), ...(base === undefined ? {} : { base }) };
  const staging = envPaths(`.new-${name}-${randomBytes(4).toString('hex')}`, home);
  try {
    await layOutEnv(staging, meta, paths.merged);
    // Before anything enters it: later, fuse-overlayfs' copies make the upper dir's
    // directories belong to subordinate ids (see pkg/prepare-env.ts). A stacked env has
    // them in its layers already, as the env it was stacked on left them.
    if (!stackedOn) {
      const { prepareEnvForPackages } = await import('../pkg/prepare-env.js');
      await prepareEnvForPackages(staging, meta, meta.base === undefined ? undefined : baseTree(home, meta.base));
    }
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

/**
 * Every layer some env stands on; undefined when an env.json cannot be read (then nobody
 * can tell which layers are unused, and none is removed).
 */
export async function usedLayers(home = venvHome()): Promise<Set<string> | undefined> {
  const used = new Set<string>();
  for (const name of await listEnvNames(home)) {
    try {
      for (const id of (await readMeta(name, home)).layers) used.add(id);
    } catch (error) {
      if (error instanceof VenvError && error.code === 'ENV_NOT_FOUND') continue;
      return undefined;
    }
  }
  return used;
}
