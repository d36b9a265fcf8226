// Layers: what stacked envs share (`venv create NEW --from ENV`). ENV's upper dir, its
// changes at that moment, is moved (not copied) to $VENV_HOME/layers/ID/tree and never
// written again; ENV and NEW both get a new, empty upper dir and that tree as a lower
// layer above their own lower ones (env.json's `layers`, top first; run/lowers for the
// shell side). The overlay reads a layer's whiteouts and opaque markers as it reads them
// in an upper dir, so the form stays the backend's own: both envs keep ENV's backend and
// id mapping. A layer is removed when no env names it any more (sweepLayers, after rm).
//
//   layers/ID/tree      the frozen upper dir
//   layers/ID/prepared  the env's run/prepared at that moment: what venv wrote itself in the
//                       tree (pkg/prepared-manifest.ts), left out of `commit --flatten`
//   layers/ID/pending   while it is being made: "PID"; a layer with one is never swept
//                       (a stack cut short leaves its tree there rather than lose it)
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mapping } from '../host/host-checks.js';
import { READ_LIMITS, readEnvFile } from './env-files.js';
import { type EnvPaths } from './paths.js';

export const LAYER_ID = /^[0-9a-f]{16}$/;
/** More would make every start slower than anyone wants; the kernel takes 500. */
export const MAX_LAYERS = 16;

export function layersDir(home: string): string {
  return join(home, 'layers');
}

export function layerTree(home: string, id: string): string {
  return join(layersDir(home), id, 'tree');
}

/** A layer's tree, relative to an env dir (the overlay's options are relative paths there). */
export function layerFromEnvDir(id: string): string {
  return `../../layers/${id}/tree`;
}

/** env.json's `layers` (absent: none); throws on anything else. */
export function readLayers(value: unknown): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > MAX_LAYERS ||
    value.some((id) => typeof id !== 'string' || !LAYER_ID.test(id)) ||
    new Set(value).size !== value.length
  )
    throw new Error('bad layers');
  return value as string[];
}

/** run/lowers: one layer a line, top first, relative to the env dir. */
export function runtimeLowers(layers: readonly string[]): string {
  return layers.map((id) => `${layerFromEnvDir(id)}\n`).join('');
}

/**
 * Moves the env's upper dir to a new layer and gives it an empty one; returns the layer's
 * id. The caller holds the env (not in use), writes env.json naming the layer, then calls
 * layerDone.
 */
export async function freezeUpper(paths: EnvPaths, home: string): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const dir = join(layersDir(home), id);
  await mkdir(layersDir(home), { recursive: true, mode: 0o700 });
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'pending'), `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  const prepared = readEnvFile(paths.run, 'prepared', READ_LIMITS.prepared);
  if (prepared) await writeFile(join(dir, 'prepared'), prepared, { flag: 'wx', mode: 0o600 });
  await rename(paths.upper, join(dir, 'tree'));
  await mkdir(paths.upper, { mode: 0o755 });
  return id;
}

export async function layerDone(home: string, id: string): Promise<void> {
  await rm(join(layersDir(home), id, 'pending'), { force: true });
}

/**
 * Removes the layers no env names (`used`: every layer some env's env.json names), with
 * removeTree (files chowned inside belong to subordinate ids).
 */
export async function sweepLayers(
  home: string,
  used: ReadonlySet<string>,
  removeTree: (dir: string, mapping: Mapping) => Promise<void>,
  mapping: Mapping,
): Promise<void> {
  let ids: string[];
  try {
    ids = await readdir(layersDir(home));
  } catch {
    return;
  }
  for (const id of ids) {
    if (!LAYER_ID.test(id) || used.has(id)) continue;
    const dir = join(layersDir(home), id);
    const pending = await readdir(dir).then(
      (names) => names.includes('pending'),
      () => true,
    );
    if (pending) continue;
    await removeTree(dir, mapping).catch(() => undefined);
  }
}
