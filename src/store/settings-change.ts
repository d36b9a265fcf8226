// The command line's side of an env's settings (env-settings.ts): --net, --share,
// --volume, --rm-volume, --publish, --rm-publish and --pkgdb-sync, parsed and applied to an env's settings by `venv create` and
// `venv config`. A refusal is a USAGE error saying what was expected.
import { isIPv4 } from 'node:net';
import { VenvError } from '../errors.js';
import {
  cleanPath,
  type EnvSettings,
  isPort,
  NET_MODES,
  type NetMode,
  type Publish,
  PUBLISH_PROTOCOLS,
  type PublishProtocol,
  PKGDB_SYNC_MODES,
  type PkgDbSyncMode,
  SHARE_NAMES,
  type ShareName,
  settingsProblem,
  sortPublish,
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

const PUBLISH_HINT = 'give --publish HOST_PORT:ENV_PORT or HOST_ADDRESS:HOST_PORT:ENV_PORT, ports 1-65535 (tcp)';

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return isPort(port) ? port : undefined;
}

/** `[HOST_ADDRESS:]HOST_PORT:ENV_PORT[/tcp]` as given to --publish; 127.0.0.1 unless given. */
export function parsePublish(spec: string): Publish {
  const [ports = '', protocol = 'tcp', ...more] = spec.split('/');
  const parts = ports.split(':');
  const bad = (why: string) => usage(`bad --publish "${spec}": ${why}`, PUBLISH_HINT);
  if (more.length > 0 || !(PUBLISH_PROTOCOLS as readonly string[]).includes(protocol))
    throw bad(
      protocol === 'udp'
        ? "only tcp ports can be published (slirp4netns drops udp replies when the host's loopback is closed to the env)"
        : 'the protocol after "/" must be tcp',
    );
  if (parts.length < 2 || parts.length > 3) throw bad('expected [HOST_ADDRESS:]HOST_PORT:ENV_PORT');
  const hostAddress = parts.length === 3 ? (parts[0] ?? '') : '127.0.0.1';
  if (!isIPv4(hostAddress)) throw bad(`"${hostAddress}" is not an IPv4 address of the host`);
  const hostPort = parsePort(parts.at(-2));
  const envPort = parsePort(parts.at(-1));
  if (hostPort === undefined || envPort === undefined) throw bad('a port is a number from 1 to 65535');
  return { protocol: protocol as PublishProtocol, hostAddress, hostPort, envPort };
}

/** `HOST_PORT[/tcp]` as given to --rm-publish: which published ports it names. */
function parseRemovePublish(spec: string): (publish: Publish) => boolean {
  const [port, protocol = 'tcp', ...more] = spec.split('/');
  const hostPort = parsePort(port);
  if (hostPort === undefined || more.length > 0 || !(PUBLISH_PROTOCOLS as readonly string[]).includes(protocol))
    throw usage(`bad --rm-publish "${spec}": expected HOST_PORT`, 'see the published ports with "venv config NAME"');
  return (publish) => publish.hostPort === hostPort && publish.protocol === protocol;
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
      "--net host shares the host's network, --net none gives the env only its own loopback, --net private its own network with outbound access",
    );
  return mode as NetMode;
}

export function parsePkgDbSync(mode: string): PkgDbSyncMode {
  if (!(PKGDB_SYNC_MODES as readonly string[]).includes(mode))
    throw usage(
      `bad --pkgdb-sync "${mode}": expected ${PKGDB_SYNC_MODES.join(' or ')}`,
      "--pkgdb-sync auto merges the host's package changes on entry when nothing needs deciding, manual only warns",
    );
  return mode as PkgDbSyncMode;
}

export interface SettingsChange {
  net?: string;
  share?: string;
  /** Added, or replacing the volume at the same env path. */
  volumes?: string[];
  /** Env paths of volumes to drop. */
  removeVolumes?: string[];
  /** Added, or replacing the one on the same host port and protocol. */
  publish?: string[];
  /** `HOST_PORT[/PROTOCOL]` of published ports to drop. */
  removePublish?: string[];
  pkgdbSync?: string;
}

export function hasChanges(change: SettingsChange): boolean {
  return (
    change.net !== undefined ||
    change.share !== undefined ||
    change.pkgdbSync !== undefined ||
    (change.volumes?.length ?? 0) > 0 ||
    (change.removeVolumes?.length ?? 0) > 0 ||
    (change.publish?.length ?? 0) > 0 ||
    (change.removePublish?.length ?? 0) > 0
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
  let publish = [...base.publish];
  for (const spec of change.removePublish ?? []) {
    const named = parseRemovePublish(spec);
    if (!publish.some(named))
      throw usage(`no published port "${spec}" to remove`, 'see the published ports with "venv config NAME"');
    publish = publish.filter((port) => !named(port));
  }
  for (const spec of change.publish ?? []) {
    const port = parsePublish(spec);
    publish = [
      ...publish.filter((other) => other.hostPort !== port.hostPort || other.protocol !== port.protocol),
      port,
    ];
  }
  const settings: EnvSettings = {
    net: change.net === undefined ? base.net : parseNet(change.net),
    share: change.share === undefined ? [...base.share] : parseShare(change.share),
    volumes: sortVolumes(volumes),
    publish: sortPublish(publish),
    pkgdbSync: change.pkgdbSync === undefined ? base.pkgdbSync : parsePkgDbSync(change.pkgdbSync),
  };
  const problem = settingsProblem(settings);
  if (problem) throw usage(`cannot use these settings: ${problem}`, 'see "venv config --help"');
  return settings;
}
