// An env's settings: what it shares with the host and its network. Saved in env.json,
// changed by `venv config` while the env is not in use, and read on every node command:
// env.json sits in the env's directory, which the env's programs may reach (a VENV_HOME
// under a shared home), so it is parsed as hostile input: every field checked, nothing
// unknown kept. The shell side reads them from run/settings (runtimeSettings below),
// written by node, so that entering needs no node. What the command line gives is
// parsed and applied in settings-change.ts.
import { isIPv4 } from 'node:net';
import { posix } from 'node:path';

/**
 * `host`: the host's network (as before); `none`: a network namespace of its own with only
 * loopback; `private`: a network namespace of its own with outbound access through
 * slirp4netns (user-mode networking: no privileges) and the ports it publishes.
 */
export const NET_MODES = ['host', 'none', 'private'] as const;
export type NetMode = (typeof NET_MODES)[number];

/**
 * tcp only: with the host's loopback closed to the env (--disable-host-loopback),
 * slirp4netns (libslirp 4.7) drops the env's replies to a udp port published on the
 * host's 127.0.0.1, their destination being the gateway that stands for it.
 */
export const PUBLISH_PROTOCOLS = ['tcp'] as const;
export type PublishProtocol = (typeof PUBLISH_PROTOCOLS)[number];

/** A port of the host's forwarded to a port of the env's (`--net private` only). */
export interface Publish {
  protocol: PublishProtocol;
  /** The host address it listens on, IPv4: 127.0.0.1 unless given. */
  hostAddress: string;
  hostPort: number;
  envPort: number;
}

/**
 * What of the user's an env shares by default and may keep private instead. /sys and /dev
 * are the machine's plumbing and are always there.
 *   home  the caller's home bound in (live), or all of /home a directory of the env's own
 *         (envs/NAME/home), so that the overlay does not show the host's /home either
 *   tmp   /tmp (the host's) or a tmpfs of the env's own on /tmp, /var/tmp and /dev/shm
 *   run   the caller's /run/user/UID and the system D-Bus socket in the env's /run, or not
 */
export const SHARE_NAMES = ['home', 'tmp', 'run'] as const;
export type ShareName = (typeof SHARE_NAMES)[number];

/**
 * What entering does once the host's packages changed under the env's own dpkg database
 * (docs/packages.md): `auto` merges them in (as `venv sync-pkgdb`) when no session is
 * inside and the merge has nothing to decide, and says so in one line; `manual` only warns.
 */
export const PKGDB_SYNC_MODES = ['auto', 'manual'] as const;
export type PkgDbSyncMode = (typeof PKGDB_SYNC_MODES)[number];

export interface Volume {
  /** A directory on the host, absolute. */
  host: string;
  /** Where it appears in the env, absolute. */
  env: string;
  readOnly: boolean;
}

export interface EnvSettings {
  net: NetMode;
  /** Which of SHARE_NAMES are the host's, in SHARE_NAMES' order. */
  share: ShareName[];
  /** Host directories bound into the env, parents before children. */
  volumes: Volume[];
  /** Ports published on the host (`net` private), by host port. */
  publish: Publish[];
  pkgdbSync: PkgDbSyncMode;
}

export const DEFAULT_SETTINGS: EnvSettings = {
  net: 'host',
  share: [...SHARE_NAMES],
  volumes: [],
  publish: [],
  pkgdbSync: 'auto',
};

/** More would only slow down every start of the env. */
export const MAX_VOLUMES = 32;
export const MAX_PUBLISH = 32;
const MAX_PATH = 4096;

/** Directories no volume may go into: the machine's plumbing, and /run (filled at each start). */
const NO_VOLUME_UNDER = ['/proc', '/sys', '/dev', '/run'];

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * An absolute path without `..`, control characters (the runtime file is split on tabs
 * and lines) or colons (the volume syntax), in its normal form; undefined when it is not.
 */
export function cleanPath(path: string): string | undefined {
  if (!path.startsWith('/') || path.length > MAX_PATH) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f:]/.test(path)) return undefined;
  if (path.split('/').includes('..')) return undefined;
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** `[HOST_ADDRESS:]HOST_PORT:ENV_PORT[/PROTOCOL]`, the address left out when it is the default. */
export function formatPublish(publish: Publish): string {
  const address = publish.hostAddress === '127.0.0.1' ? '' : `${publish.hostAddress}:`;
  return `${address}${publish.hostPort}:${publish.envPort}/${publish.protocol}`;
}

/** Two publishes that would listen on the same host socket. */
function sameHostSocket(a: Publish, b: Publish): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort) return false;
  return a.hostAddress === b.hostAddress || a.hostAddress === '0.0.0.0' || b.hostAddress === '0.0.0.0';
}

/** Why these settings cannot work together; undefined when they can. */
export function settingsProblem(settings: EnvSettings): string | undefined {
  if (settings.volumes.length > MAX_VOLUMES) return `more than ${MAX_VOLUMES} volumes`;
  if (settings.publish.length > MAX_PUBLISH) return `more than ${MAX_PUBLISH} published ports`;
  if (settings.publish.length > 0 && settings.net !== 'private')
    return `published ports (${settings.publish.map(formatPublish).join(', ')}) need --net private: drop them with --rm-publish`;
  for (const publish of settings.publish) {
    const clash = settings.publish.find((other) => other !== publish && sameHostSocket(publish, other));
    if (clash) return `--publish ${formatPublish(publish)} and ${formatPublish(clash)} take the same host port`;
  }
  for (const volume of settings.volumes) {
    const at = `volume ${volume.host}:${volume.env}`;
    if (volume.env === '/') return `${at}: / cannot be a volume`;
    const plumbing = NO_VOLUME_UNDER.find((dir) => isUnder(volume.env, dir));
    if (plumbing) return `${at}: volumes cannot go into ${plumbing}`;
    // Its mount point would be made in the host's own directory.
    const shared = (['home', 'tmp'] as const).find(
      (name) => settings.share.includes(name) && isUnder(volume.env, `/${name}`),
    );
    if (shared) return `${at}: /${shared} is the host's in this env (--share without ${shared} makes it the env's own)`;
    const outer = settings.volumes.find((other) => other !== volume && isUnder(volume.env, other.env));
    if (outer) return `${at}: it is inside volume ${outer.host}:${outer.env}`;
  }
  return undefined;
}

/** Published ports in host port order, so that env.json and `venv config` are stable. */
export function sortPublish(publish: Publish[]): Publish[] {
  return [...publish].sort(
    (a, b) =>
      a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol) || a.hostAddress.localeCompare(b.hostAddress),
  );
}

/** Volumes in mount order (parents first; they cannot nest, so this is for a stable order). */
export function sortVolumes(volumes: Volume[]): Volume[] {
  return [...volumes].sort((a, b) => (a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(value: Record<string, unknown>, keys: string[], what: string): void {
  const extra = Object.keys(value).find((key) => !keys.includes(key));
  if (extra !== undefined) throw new Error(`unknown field "${extra}" in ${what}`);
}

/** The settings of env.json's `settings` field (absent: the defaults); throws on anything else. */
export function readSettings(value: unknown): EnvSettings {
  if (value === undefined) return { ...DEFAULT_SETTINGS, share: [...DEFAULT_SETTINGS.share], publish: [] };
  if (!isRecord(value)) throw new Error('settings is not an object');
  onlyKeys(value, ['net', 'share', 'volumes', 'publish', 'pkgdbSync'], 'settings');
  const { net, share, volumes, publish = [], pkgdbSync } = value;
  if (!(NET_MODES as readonly unknown[]).includes(net)) throw new Error('bad settings.net');
  if (!Array.isArray(share) || share.some((name) => !(SHARE_NAMES as readonly unknown[]).includes(name)))
    throw new Error('bad settings.share');
  if (!Array.isArray(volumes) || volumes.length > MAX_VOLUMES) throw new Error('bad settings.volumes');
  // Absent in env.json of envs made before the setting: they follow the host too.
  if (pkgdbSync !== undefined && !(PKGDB_SYNC_MODES as readonly unknown[]).includes(pkgdbSync))
    throw new Error('bad settings.pkgdbSync');
  const parsed = volumes.map((volume: unknown) => {
    if (!isRecord(volume)) throw new Error('a volume is not an object');
    onlyKeys(volume, ['host', 'env', 'readOnly'], 'a volume');
    const host = typeof volume.host === 'string' ? cleanPath(volume.host) : undefined;
    const env = typeof volume.env === 'string' ? cleanPath(volume.env) : undefined;
    if (!host || host !== volume.host || !env || env !== volume.env || typeof volume.readOnly !== 'boolean')
      throw new Error('bad volume');
    return { host, env, readOnly: volume.readOnly };
  });
  // Absent in env.json files written before there was --publish.
  if (!Array.isArray(publish) || publish.length > MAX_PUBLISH) throw new Error('bad settings.publish');
  const ports = publish.map((entry: unknown): Publish => {
    if (!isRecord(entry)) throw new Error('a published port is not an object');
    onlyKeys(entry, ['protocol', 'hostAddress', 'hostPort', 'envPort'], 'a published port');
    const { protocol, hostAddress, hostPort, envPort } = entry;
    if (
      !(PUBLISH_PROTOCOLS as readonly unknown[]).includes(protocol) ||
      typeof hostAddress !== 'string' ||
      !isIPv4(hostAddress) ||
      !isPort(hostPort) ||
      !isPort(envPort)
    )
      throw new Error('bad published port');
    return { protocol: protocol as PublishProtocol, hostAddress, hostPort, envPort };
  });
  const settings: EnvSettings = {
    net: net as NetMode,
    share: SHARE_NAMES.filter((name) => (share as unknown[]).includes(name)),
    volumes: sortVolumes(parsed),
    publish: sortPublish(ports),
    pkgdbSync: (pkgdbSync as PkgDbSyncMode | undefined) ?? 'auto',
  };
  const problem = settingsProblem(settings);
  if (problem) throw new Error(problem);
  return settings;
}

/**
 * run/settings, read by the shell side when the env starts (keeper.sh, session.sh): one
 * line per setting, fields split by tabs (paths hold neither tabs nor newlines).
 *   net  MODE
 *   run  shared|private
 *   volume  ro|rw  HOST_PATH  ENV_PATH
 *   publish  tcp  HOST_ADDRESS  HOST_PORT  ENV_PORT
 *   pkgdb-sync  auto|manual   (read by session.sh on entry, only when the host's packages changed)
 * /home and /tmp need no line: binds.fstab mounts them (mount-plan.ts).
 */
export function runtimeSettings(settings: EnvSettings): string {
  const lines = [
    `net\t${settings.net}`,
    `run\t${settings.share.includes('run') ? 'shared' : 'private'}`,
    ...settings.volumes.map((volume) => `volume\t${volume.readOnly ? 'ro' : 'rw'}\t${volume.host}\t${volume.env}`),
    ...settings.publish.map(
      (port) => `publish\t${port.protocol}\t${port.hostAddress}\t${port.hostPort}\t${port.envPort}`,
    ),
    `pkgdb-sync\t${settings.pkgdbSync}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `venv config NAME`: one setting a line. */
export function formatSettings(settings: EnvSettings): string {
  const lines = [
    `net         ${settings.net}`,
    `share       ${settings.share.length === 0 ? 'none' : settings.share.join(',')}`,
    ...(settings.volumes.length === 0
      ? ['volumes     none']
      : settings.volumes.map((volume) => `volume      ${volume.host}:${volume.env}${volume.readOnly ? ':ro' : ''}`)),
    // Only an env with a network of its own can publish: the others say nothing of it.
    ...(settings.net !== 'private'
      ? []
      : settings.publish.length === 0
        ? ['publish     none']
        : settings.publish.map((port) => `publish     ${formatPublish(port)}`)),
    `pkgdb-sync  ${settings.pkgdbSync}`,
  ];
  return `${lines.join('\n')}\n`;
}
