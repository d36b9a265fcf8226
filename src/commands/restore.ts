// `venv restore FILE [NAME]`: an env made from an OCI layer tarball. All or nothing: the
// env is built under a hidden name in $VENV_HOME/envs (or, with --force, as the existing
// env's .upper-next) and renamed into place only when the extraction is complete.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { extractLayer } from '../archive/extract-layer.js';
import { isNoSpace, noSpaceError } from '../archive/child.js';
import { assertValidEnvName } from '../store/env-name.js';
import { describeProcesses, runningEnv } from '../store/env-state.js';
import { VenvError } from '../errors.js';
import { isAlive } from '../host/pid.js';
import { prepareEnvForPackages } from '../pkg/prepare-env.js';
import { chooseMapping } from '../host/host-checks.js';
import { interruptible, type Progress } from '../cli/interrupt.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, envsDir, venvHome } from '../store/paths.js';
import {
  envExists,
  type EnvMeta,
  layOutEnv,
  newEnvMeta,
  readMeta,
  removeTree,
  writeMeta,
  writeRuntimeFiles,
} from '../store/env-store.js';
import { baseTree, readBaseMeta, storedBases } from '../store/bases.js';
import type { EnvPaths } from '../store/paths.js';
import type { ProgressReport } from '../archive/progress-probe.js';
import { nextUpper, oldTreeLeft, recoverUpper, swapUpper } from '../store/upper-swap.js';

export interface RestoreOptions {
  /** The tarball, or "-" for stdin. */
  file: string;
  /** Default: the file's name without its extensions (work.tar.zst -> work). */
  name?: string;
  /** Replace an existing env of that name (never one in use). */
  force?: boolean;
  /** The new env's backend (default: the fastest this machine runs); a replaced env keeps its own. */
  backend?: string;
  /** The most bytes the archive may expand to; default: the free space less a margin (size-limit.ts). */
  maxSize?: number;
  /** Bytes of the archive file read so far, and its size (not called for stdin). */
  onProgress?: ProgressReport;
  home?: string;
}

export interface RestoreResult {
  name: string;
  entries: number;
  bytes: number;
  /** True when an existing env's changes were replaced. */
  replaced: boolean;
}

export function nameFromFile(file: string): string {
  return basename(file).replace(/\.(tar\.(zst|zstd|gz)|tar|tgz|tzst)$/, '');
}

const STAGING = /^\.restore-.+-(\d+)-[0-9a-f]{8}$/;

export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const name = options.name ?? (options.file === '-' ? '' : nameFromFile(options.file));
  if (options.name === undefined && name === '') {
    throw new VenvError('USAGE', `cannot tell an env name from "${options.file}"`, {
      hint: 'give one: venv restore FILE NAME',
    });
  }
  assertValidEnvName(name);
  const home = options.home ?? venvHome();
  const paths = envPaths(name, home);
  await mkdir(envsDir(home), { recursive: true, mode: 0o700 });
  return withEnvLock(paths.lockTarget, name, () =>
    interruptible(async (signal, progress) => {
      if (await envExists(name, home)) {
        if (!options.force) {
          throw new VenvError('ENV_EXISTS', `an env named "${name}" already exists`, {
            hint: `replace its changes with "venv restore --force ${options.file} ${name}", or pick another name`,
          });
        }
        return replaceEnv(options, name, home, signal, progress);
      }
      await sweepStaging(home);
      const meta = newEnvMeta(name, home, options.backend);
      const staging = envPaths(`.restore-${name}-${process.pid}-${randomBytes(4).toString('hex')}`, home);
      try {
        await layOutEnv(staging, meta, paths.merged);
        const stats = await extractLayer({
          file: options.file,
          into: staging.upper,
          mapping: meta.mapping,
          backend: meta.backend,
          maxSize: options.maxSize,
          signal,
          onProgress: options.onProgress,
        });
        // An archive of an env on a base holds only its changes: the env stands on that base.
        const onBase = stats.base ? await standOnBase(staging, meta, stats.base, home, paths.merged) : meta;
        // What venv writes into every new env for this host's package managers (left out
        // of archives): idempotent, so what the archive brought stays.
        await prepareEnvForPackages(
          staging,
          onBase,
          onBase.base === undefined ? undefined : baseTree(home, onBase.base),
        );
        await rename(staging.dir, paths.dir);
        return { name, ...stats, replaced: false };
      } catch (error) {
        await removeTree(staging.dir, meta.mapping);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new VenvError('ENV_EXISTS', `an env named "${name}" appeared meanwhile`, { cause: error });
        }
        throw restoreError(error, name);
      }
    }),
  );
}

async function replaceEnv(
  { file, maxSize, onProgress }: RestoreOptions,
  name: string,
  home: string,
  signal: AbortSignal,
  progress: Progress,
): Promise<RestoreResult> {
  const meta = await readMeta(name, home);
  const paths = envPaths(name, home);
  await recoverUpper(paths, meta.mapping);
  // Checked again, for good, when the new tree goes in; this saves the extraction.
  const running = runningEnv(name, home);
  if (running) {
    throw new VenvError('ENV_BUSY', `env "${name}" is in use: ${describeProcesses(running)}`, {
      hint: 'leave its shells and end its commands first',
    });
  }
  const next = nextUpper(paths);
  await mkdir(next, { mode: 0o755 });
  // The list of what venv prepared describes the old upper dir: a new one is made for the new.
  const manifest = join(paths.run, 'prepared');
  const oldManifest = `${manifest}.old`;
  await rename(manifest, oldManifest).catch(() => undefined);
  let swapped = false;
  try {
    const stats = await extractLayer({
      file,
      into: next,
      mapping: meta.mapping,
      backend: meta.backend,
      maxSize,
      signal,
      onProgress,
    });
    if (stats.base?.id !== meta.base) throw otherBase(name, meta.base, stats.base);
    await prepareEnvForPackages(
      { ...paths, upper: next },
      meta,
      meta.base === undefined ? undefined : baseTree(home, meta.base),
    );
    await swapUpper(paths, home, meta.mapping, {
      signal,
      onSwapped: () => {
        swapped = true;
        progress.made = `env "${name}" has the changes of ${file === '-' ? 'the archive' : file}`;
        progress.left = oldTreeLeft(paths, name);
      },
    });
    progress.left = undefined;
    return { name, ...stats, replaced: true };
  } catch (error) {
    throw restoreError(error, name);
  } finally {
    if (swapped) await rm(oldManifest, { force: true });
    else await rename(oldManifest, manifest).catch(() => undefined);
    if (existsSync(next)) await removeTree(next, meta.mapping);
  }
}

/** The archive was made on a base: checks it is stored here, and makes the env stand on it. */
async function standOnBase(
  staging: EnvPaths,
  meta: EnvMeta,
  base: { id: string; digest: string },
  home: string,
  finalMerged: string,
): Promise<EnvMeta> {
  const stored = storedBases(home).includes(base.id) ? readBaseMeta(home, base.id) : undefined;
  if (!stored || stored.digest !== base.digest)
    throw new VenvError(
      'BASE_NOT_FOUND',
      `the archive holds the changes of an env on base ${base.id} (${base.digest}), which is not stored here`,
      {
        hint: 'import that base first (venv create --base SOURCE NAME: the same source gives the same base), then restore again; nothing was restored',
      },
    );
  const onBase = { ...meta, base: base.id };
  writeMeta(staging, onBase);
  await writeRuntimeFiles(staging, onBase, finalMerged);
  return onBase;
}

function otherBase(name: string, has: string | undefined, archive: { id: string } | undefined): VenvError {
  const what = (id: string | undefined) => (id === undefined ? "the host's /" : `base ${id}`);
  return new VenvError(
    'BASE_NOT_FOUND',
    `the archive holds changes made on ${what(archive?.id)}, but env "${name}" stands on ${what(has)}`,
    { hint: 'restore it into a new env instead; nothing was changed' },
  );
}

/**
 * A failure of venv's own file work around the extraction (laying out the env, preparing
 * it) as one line: a full disk above all, which otherwise surfaced as a stack.
 */
function restoreError(error: unknown, name: string): unknown {
  if (error instanceof VenvError) return error;
  if (isNoSpace(error)) return noSpaceError(error, `cannot restore env "${name}"`, 'no env was made or changed');
  return new VenvError('IO_FAILED', `cannot restore env "${name}": ${(error as Error).message}`, { cause: error });
}

/** Removes staging dirs left by restores that were killed (their pid is gone). */
async function sweepStaging(home: string): Promise<void> {
  for (const entry of await readdir(envsDir(home)).catch(() => [] as string[])) {
    const pid = Number(STAGING.exec(entry)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await removeTree(join(envsDir(home), entry), chooseMapping()).catch(() => undefined);
  }
}
