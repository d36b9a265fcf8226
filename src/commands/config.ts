// `venv config NAME [--net MODE] [--share LIST] [--volume SPEC]... [--rm-volume PATH]...
// [--publish SPEC]... [--rm-publish PORT]...`:
// shows an env's settings (env-settings.ts), or changes them. A change takes effect at the
// env's next start, so it is made only while the env is not in use: under the start mutex,
// as rm does, so that no session can start the env between the check and the write.
import { readFileSync, statSync } from 'node:fs';
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

/** The first port an ordinary user may listen on (the kernel's setting; 1024 unless changed). */
function firstUnprivilegedPort(): number {
  try {
    const value = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    return Number.isInteger(value) ? value : 1024;
  } catch {
    return 1024;
  }
}

/**
 * A published port is listened on by slirp4netns, on the host, as the user: one below the
 * kernel's limit would fail at every start, so it is refused now (real root may).
 */
export function checkPublishPorts(settings: EnvSettings): void {
  if (process.getuid?.() === 0 || settings.publish.length === 0) return;
  const first = firstUnprivilegedPort();
  const low = settings.publish.find((port) => port.hostPort < first);
  if (low)
    throw new VenvError('USAGE', `cannot publish host port ${low.hostPort}: ports below ${first} need root`, {
      hint: `publish on a host port from ${first} up (--publish ${Math.max(first, 8000) + (low.envPort % 1000)}:${low.envPort}), or run venv as root`,
    });
}

/** What config and create check of new settings beyond their form: the host side of them. */
export function checkHostSide(settings: EnvSettings): void {
  checkVolumeSources(settings);
  checkPublishPorts(settings);
}

export async function config(options: ConfigOptions): Promise<ConfigResult> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  if (!hasChanges(options)) return { settings: meta.settings, changed: false };
  // Bad options fail before anything is locked.
  checkHostSide(applyChange(meta.settings, options));
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, () =>
    withEnvExclusive(paths, home, {}, async () => {
      const current = await readMeta(options.name, home);
      const settings = applyChange(current.settings, options);
      checkHostSide(settings);
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
