import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { machineChecks } from '../backends/backend-checks.js';
import { firstBlockingProblem } from '../host/host-checks.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { DEFAULT_SETTINGS } from '../store/env-settings.js';
import { applyChange, type SettingsChange } from '../store/settings-change.js';
import { createEnv, type EnvMeta, readMeta } from '../store/env-store.js';
import { checkHostSide } from './config.js';

export interface CreateOptions extends SettingsChange {
  name: string;
  /** "overlay" or "fuse-overlayfs" (default: VENV_BACKEND, else the fastest this machine runs). */
  backend?: string;
  /** Stack the new env on this one (see stack.ts). */
  from?: string;
  /** A root file system, tarball or OCI image to stand on instead of the host's / (bases.ts). */
  base?: string;
  /** How far importing the base is. */
  onProgress?: (done: number, total: number) => void;
  home?: string;
}

export async function create(options: CreateOptions): Promise<EnvMeta> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  if (options.from !== undefined) assertValidEnvName(options.from);
  if (options.from !== undefined && options.base !== undefined)
    throw new VenvError('USAGE', '--from and --base do not go together: a stacked env stands on the base of its env', {
      hint: 'give one of them',
    });
  // A stacked env starts with the settings of the env it is stacked on.
  const base = options.from === undefined ? DEFAULT_SETTINGS : (await readMeta(options.from, home)).settings;
  const settings = applyChange(base, options);
  checkHostSide(settings);
  const problem = firstBlockingProblem(machineChecks(home));
  if (problem) {
    throw new VenvError(
      problem.name === '/dev/fuse'
        ? 'FUSE_UNAVAILABLE'
        : problem.name === 'user namespaces'
          ? 'USERNS_UNAVAILABLE'
          : 'TOOL_MISSING',
      `this machine cannot run envs: ${problem.name}: ${problem.detail}`,
      { hint: `fix: ${problem.fix}` },
    );
  }
  if (options.base !== undefined) {
    const { createOnBase } = await import('./bases.js');
    const { name, base: source, backend, onProgress } = options;
    return createOnBase({ name, base: source, backend, settings, home, onProgress });
  }
  if (options.from !== undefined) {
    const { createStacked } = await import('./stack.js');
    return createStacked({ name: options.name, from: options.from, backend: options.backend, settings, home });
  }
  return withEnvLock(envPaths(options.name, home).lockTarget, options.name, () =>
    createEnv(options.name, home, options.backend, settings),
  );
}
