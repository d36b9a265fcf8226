// `venv create NAME --base SOURCE`, `venv bases`, `venv bases rm ID...`, `venv bases prune`.
// A base stays stored when its last env is removed (importing it again would take as long
// as the first time): `venv bases` shows it with no env, and `bases rm` or `bases prune`
// remove it. Removal and the creation of an env on a base hold one lock (locks/.bases), so
// that no base goes while an env is being made on it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { VenvError } from '../errors.js';
import { chooseMapping } from '../host/host-checks.js';
import { interruptible } from '../cli/interrupt.js';
import { withEnvLock } from '../locks/env-lock.js';
import { type BaseMeta, baseDir, storedBases, readBaseMeta } from '../store/bases.js';
import { createEnv, envExists, type EnvMeta, listEnvNames, readMeta, removeTree } from '../store/env-store.js';
import type { EnvSettings } from '../store/env-settings.js';
import { envPaths } from '../store/paths.js';
import { rename } from 'node:fs/promises';

export interface CreateOnBaseOptions {
  name: string;
  base: string;
  backend?: string;
  settings: EnvSettings;
  home: string;
  onProgress?: (done: number, total: number) => void;
}

export interface BaseInfo extends BaseMeta {
  /** The envs that stand on it, by name. */
  envs: string[];
}

function withBasesLock<T>(home: string, work: () => Promise<T>): Promise<T> {
  return withEnvLock(join(home, 'locks', '.bases'), 'bases', work);
}

export async function createOnBase(options: CreateOnBaseOptions): Promise<EnvMeta & { baseMeta: BaseMeta }> {
  const { name, home } = options;
  const mapping = chooseMapping();
  if (await envExists(name, home))
    throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, {
      hint: `enter it with "venv shell ${name}", or remove it with "venv rm ${name}"`,
    });
  const { importBase } = await import('../bases/import-base.js');
  const base = await interruptible((signal) =>
    importBase({ source: options.base, home, mapping, signal, onProgress: options.onProgress }),
  );
  return withBasesLock(home, () =>
    withEnvLock(envPaths(name, home).lockTarget, name, async () => {
      if (!storedBases(home).includes(base.id))
        throw new VenvError('IO_FAILED', `base ${base.id} was removed while env "${name}" was being made`, {
          hint: 'make the env again',
        });
      const meta = await createEnv(name, home, options.backend, options.settings, undefined, base.id);
      return { ...meta, baseMeta: base };
    }),
  );
}

/** Each stored base's envs; undefined when an env.json cannot be read (nobody can tell then). */
async function envsByBase(home: string): Promise<Map<string, string[]> | undefined> {
  const byBase = new Map<string, string[]>();
  for (const name of await listEnvNames(home)) {
    try {
      const { base } = await readMeta(name, home);
      if (base !== undefined) byBase.set(base, [...(byBase.get(base) ?? []), name]);
    } catch (error) {
      if (error instanceof VenvError && error.code === 'ENV_NOT_FOUND') continue;
      return undefined;
    }
  }
  return byBase;
}

export async function listBases(home: string): Promise<BaseInfo[]> {
  const byBase = (await envsByBase(home)) ?? new Map<string, string[]>();
  const found: BaseInfo[] = [];
  for (const id of storedBases(home)) {
    try {
      const meta = readBaseMeta(home, id);
      if (meta) found.push({ ...meta, envs: byBase.get(id) ?? [] });
    } catch {
      // A base.json that is not one is no base of venv's.
    }
  }
  return found;
}

/** The stored base that ID names: the whole id or a prefix of at least 4 digits that only it has. */
function resolveId(home: string, given: string): string {
  const ids = storedBases(home);
  const matches = /^[0-9a-f]{4,16}$/.test(given) ? ids.filter((id) => id.startsWith(given)) : [];
  if (matches.length === 1) return matches[0] as string;
  throw new VenvError(
    'USAGE',
    matches.length > 1 ? `base id "${given}" names ${matches.length} bases` : `no base "${given}"`,
    {
      hint: 'see "venv bases" for the ids',
    },
  );
}

/** Removes the bases named (refused, naming the envs, for one in use); returns their ids. */
export async function removeBases(home: string, given: string[]): Promise<string[]> {
  return withBasesLock(home, async () => {
    const ids = given.map((id) => resolveId(home, id));
    const byBase = await envsByBase(home);
    if (!byBase)
      throw new VenvError('ENV_CORRUPT', 'an env.json cannot be read, so which bases are in use is unknown', {
        hint: 'see "venv list", and remove the broken env with "venv rm --force NAME"',
      });
    for (const id of ids) {
      const envs = byBase.get(id) ?? [];
      if (envs.length > 0)
        throw new VenvError(
          'ENV_BUSY',
          `base ${id} is in use by ${envs.length === 1 ? 'env' : 'envs'} ${envs.map((e) => `"${e}"`).join(', ')}`,
          {
            hint: `remove ${envs.length === 1 ? 'that env' : 'those envs'} first (venv rm ${envs.join(' ')})`,
          },
        );
    }
    for (const id of ids) await removeBase(home, id);
    return ids;
  });
}

/** Removes every base no env stands on; returns their ids. */
export async function pruneBases(home: string): Promise<string[]> {
  return withBasesLock(home, async () => {
    const byBase = await envsByBase(home);
    if (!byBase) return [];
    const unused = storedBases(home).filter((id) => !byBase.has(id));
    for (const id of unused) await removeBase(home, id);
    return unused;
  });
}

/** Renamed away first, so that a removal cut short never leaves half a base under its id. */
async function removeBase(home: string, id: string): Promise<void> {
  const trash = join(baseDir(home, id), '..', `.import-${process.pid}-${randomBytes(4).toString('hex')}`);
  await rename(baseDir(home, id), trash);
  await removeTree(trash, chooseMapping());
}
