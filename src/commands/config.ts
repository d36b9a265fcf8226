// `venv config NAME [--net MODE] [--share LIST] [--volume SPEC]... [--rm-volume PATH]...`:
// shows an env's settings (env-settings.ts), or changes them. A change takes effect at the
// env's next start, so it is made only while the env is not in use: under the start mutex,
// as rm does, so that no session can start the env between the check and the write.
import { statSync } from 'node:fs';
import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import type { EnvSettings } from '../store/env-settings.js';
import { applyChange, hasChanges, type SettingsChange } from '../store/settings-change.js';
import { preparePrivateHome, readMeta, writeMeta, writeRuntimeFiles } from '../store/env-store.js';
import { SafeDir } from '../store/env-files.js';

export interface ConfigOptions extends SettingsChange {
  name: string;
  home?: string;
}

export interface ConfigResult {
  settings: EnvSettings;
  changed: boolean;
}

/**
 * The host side of each volume must be a directory now (it must be at each start too, or
 * the start fails and says which): a typo is better caught here.
 */
export function checkVolumeSources(settings: EnvSettings): void {
  for (const volume of settings.volumes) {
    let isDir = false;
    try {
      isDir = statSync(volume.host).isDirectory();
    } catch {
      // missing or unreachable: said below
    }
    if (!isDir)
      throw new VenvError(
        'USAGE',
        `volume ${volume.host}:${volume.env}: ${volume.host} is not a directory on this machine`,
        {
          hint: 'a volume binds a host directory into the env: make it first, or check the path',
        },
      );
  }
}

export async function config(options: ConfigOptions): Promise<ConfigResult> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  if (!hasChanges(options)) return { settings: meta.settings, changed: false };
  // Bad options fail before anything is locked.
  checkVolumeSources(applyChange(meta.settings, options));
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, () =>
    withEnvExclusive(paths, home, {}, async () => {
      const current = await readMeta(options.name, home);
      const settings = applyChange(current.settings, options);
      checkVolumeSources(settings);
      const next = { ...current, settings };
      const dir = SafeDir.open(paths.dir);
      try {
        preparePrivateHome(dir, settings);
      } finally {
        dir.close();
      }
      // Runtime files first: an interrupted change leaves env.json as it was, and the next
      // entry through node writes them from it again.
      await writeRuntimeFiles(paths, next);
      writeMeta(paths, next);
      return { settings, changed: true };
    }),
  );
}
