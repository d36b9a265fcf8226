// The command line's side of an env's settings (env-settings.ts): --net, --share,
// --volume and --rm-volume, parsed and applied to an env's settings by `venv create` and
// `venv config`. A refusal is a USAGE error saying what was expected.
import { VenvError } from '../errors.js';
import {
  cleanPath,
  type EnvSettings,
  NET_MODES,
  type NetMode,
  SHARE_NAMES,
  type ShareName,
  settingsProblem,
  sortVolumes,
  type Volume,
} from './env-settings.js';

function usage(message: string, hint: string): VenvError {
  return new VenvError('USAGE', message, { hint });
}

/** `HOST_PATH:ENV_PATH[:ro|:rw]` as given to --volume. */
export function parseVolume(spec: string): Volume {
  const parts = spec.split(':');
  const [host, env, mode] = parts;
  const hint = 'give --volume HOST_PATH:ENV_PATH or HOST_PATH:ENV_PATH:ro, both absolute, without ".." or ":"';
  if (parts.length < 2 || parts.length > 3 || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw usage(`bad --volume "${spec}": expected HOST_PATH:ENV_PATH[:ro]`, hint);
  const cleanHost = cleanPath(host ?? '');
  const cleanEnv = cleanPath(env ?? '');
  if (!cleanHost) throw usage(`bad --volume "${spec}": the host path "${host}" is not absolute or has ".."`, hint);
  if (!cleanEnv) throw usage(`bad --volume "${spec}": the env path "${env}" is not absolute or has ".."`, hint);
  return { host: cleanHost, env: cleanEnv, readOnly: mode === 'ro' };
}

/** `--share home,tmp`, `--share none`, `--share all`. */
export function parseShare(list: string): ShareName[] {
  if (list === 'none') return [];
  if (list === 'all') return [...SHARE_NAMES];
  const names = list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SHARE_NAMES as readonly string[]).includes(name))
      throw usage(
        `bad --share "${list}": unknown directory "${name}"`,
        `give a list of ${SHARE_NAMES.join(', ')}, or all, or none`,
      );
  }
  return SHARE_NAMES.filter((name) => names.includes(name));
}

export function parseNet(mode: string): NetMode {
  if (!(NET_MODES as readonly string[]).includes(mode))
    throw usage(
      `bad --net "${mode}": expected ${NET_MODES.join(' or ')}`,
      "--net host shares the host's network, --net none gives the env only its own loopback",
    );
  return mode as NetMode;
}

export interface SettingsChange {
  net?: string;
  share?: string;
  /** Added, or replacing the volume at the same env path. */
  volumes?: string[];
  /** Env paths of volumes to drop. */
  removeVolumes?: string[];
}

export function hasChanges(change: SettingsChange): boolean {
  return (
    change.net !== undefined ||
    change.share !== undefined ||
    (change.volumes?.length ?? 0) > 0 ||
    (change.removeVolumes?.length ?? 0) > 0
  );
}

/** `base` with the options applied; refused (USAGE) when the result cannot work. */
export function applyChange(base: EnvSettings, change: SettingsChange): EnvSettings {
  let volumes = [...base.volumes];
  for (const path of change.removeVolumes ?? []) {
    const env = cleanPath(path);
    if (!env || !volumes.some((volume) => volume.env === env))
      throw usage(`no volume at "${path}" to remove`, 'see the volumes with "venv config NAME"');
    volumes = volumes.filter((volume) => volume.env !== env);
  }
  for (const spec of change.volumes ?? []) {
    const volume = parseVolume(spec);
    volumes = [...volumes.filter((other) => other.env !== volume.env), volume];
  }
  const settings: EnvSettings = {
    net: change.net === undefined ? base.net : parseNet(change.net),
    share: change.share === undefined ? [...base.share] : parseShare(change.share),
    volumes: sortVolumes(volumes),
  };
  const problem = settingsProblem(settings);
  if (problem) throw usage(`cannot use these settings: ${problem}`, 'see "venv config --help"');
  return settings;
}
