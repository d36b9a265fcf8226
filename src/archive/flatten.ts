// `venv commit --flatten` of a stacked env: its layers and its own upper dir made into one
// upper dir in VENV_HOME/tmp (flatten-worker.ts, in the env's user namespace), which the
// commit then archives as it would an env's own; removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BackendName, opaqueXattr } from '../backends/backend.js';
import type { Mapping } from '../host/host-checks.js';
import { run } from '../host/exec.js';
import { inUserns } from '../host/userns.js';
import { READ_LIMITS, readEnvFile, writeEnvFile } from '../store/env-files.js';
import { layerTree } from '../store/layers.js';
import type { EnvPaths } from '../store/paths.js';
import type { FlattenWorkerOptions } from './flatten-worker.js';

export interface Flattened {
  /** The dir holding the tree and the manifest: remove it with removeTree. */
  dir: string;
  upper: string;
  /** What venv wrote itself into any of the layers (prepared.ts), as one manifest. */
  prepared: string;
}

export async function flattenLayers(
  paths: EnvPaths,
  home: string,
  meta: { mapping: Mapping; backend: BackendName; layers: readonly string[] },
  scratch: string,
  signal?: AbortSignal,
): Promise<Flattened> {
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  const dir = join(scratch, `flatten-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  const bottomFirst = [...meta.layers].reverse();
  // The manifests of the layers (each kept its env's at the time) and the env's own.
  const manifests = [
    ...bottomFirst.map((id) => readEnvFile(join(home, 'layers', id), 'prepared', READ_LIMITS.prepared)),
    readEnvFile(paths.run, 'prepared', READ_LIMITS.prepared),
  ];
  writeEnvFile(dir, 'prepared', manifests.filter(Boolean).join(''), 0o600);
  const options: FlattenWorkerOptions = {
    dest: join(dir, 'tree'),
    layers: [...bottomFirst.map((id) => layerTree(home, id)), paths.upper],
    opaqueXattr: opaqueXattr(meta.backend, meta.mapping),
  };
  const script = new URL('./flatten-worker.js', import.meta.url).pathname;
  const [file, args] = inUserns(meta.mapping, [process.execPath, script, JSON.stringify(options)]);
  await run(file, args, { signal, failWith: 'IO_FAILED' });
  return { dir, upper: options.dest, prepared: join(dir, 'prepared') };
}
