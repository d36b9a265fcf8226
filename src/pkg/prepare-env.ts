// What it takes for apt, dpkg and the maintainer scripts they run to work in a rootless
// env, decided once when the env is created (or restored) and written into its upper dir,
// so that entering an env costs nothing more. Every package-manager specific piece is in
// this file, each with the reason it is needed; see docs/packages.md.
//
// The general rule: inside the env every host file shows as root's (fuse-overlayfs'
// squash_to_root) and root may write it, but fuse-overlayfs must copy a file up before it
// is written, and it reads the host file as the user to do that. A file the user cannot
// read therefore cannot be opened for writing inside, nor a directory the user cannot list
// be changed. In the package managers' state directories those are lock files, empty
// secrets and logs: the env gets its own empty copy with the same mode.
import { opaqueXattr } from '../backends/backend.js';
import { toKernelMarkers } from '../backends/kernel-markers.js';
import type { Mapping } from '../host/host-checks.js';
import type { EnvMeta } from '../store/env-store.js';
import { inUpper, lstatEnvFile } from '../store/env-files.js';
import type { EnvPaths } from '../store/paths.js';
import { BASE_STATUS, BASE_STATUS_DIR, DPKG_HOOK_FILE, dpkgHookConfig, HOST_STATUS } from './pkgdb-files.js';
import { recordPrepared } from './prepared-manifest.js';
import { baseTreeView, type HostView, realHost, type UpperItem } from './upper-items.js';
import { writeIntoUpper } from './upper-writer.js';

/** Scanned one level deep (not recursively: /var/lib/dpkg/info alone holds thousands of files). */
const STATE_DIRS = [
  // dpkg: lock, lock-frontend and triggers/Lock are 0640/0600 root-only files.
  '/var/lib/dpkg',
  '/var/lib/dpkg/triggers',
  '/var/lib/dpkg/updates',
  // apt: lists/lock and archives/lock; lists/partial and archives/partial are 0700 _apt dirs.
  '/var/lib/apt',
  '/var/lib/apt/lists',
  '/var/cache/apt',
  '/var/cache/apt/archives',
  // debconf: passwords.dat is an empty 0600 file that debconf rewrites on every run.
  '/var/cache/debconf',
  // logs: apt's term.log is root:adm 0640.
  '/var/log',
  '/var/log/apt',
  // shadow-utils (useradd, groupadd, run by maintainer scripts): the lock file .pwd.lock.
  '/etc',
];

/** Where an unreadable file that is not empty is a log: the env starts its own. */
const LOG_DIRS = ['/var/log/'];

/** Account files that hold password hashes; useradd and groupadd rewrite them (see accountItems). */
const SHADOW_FILES = [
  { path: '/etc/shadow', from: '/etc/passwd', line: (f: string[]) => `${f[0]}:*:::::::` },
  { path: '/etc/shadow-', from: '/etc/passwd', line: (f: string[]) => `${f[0]}:*:::::::` },
  { path: '/etc/gshadow', from: '/etc/group', line: (f: string[]) => `${f[0]}:*::${f[3] ?? ''}` },
  { path: '/etc/gshadow-', from: '/etc/group', line: (f: string[]) => `${f[0]}:*::${f[3] ?? ''}` },
];

/** The general rule above, for every file and directory in STATE_DIRS this user cannot read. */
export function unreadableStateItems(host: HostView): UpperItem[] {
  const items: UpperItem[] = [];
  for (const dir of STATE_DIRS) {
    if (!host.readable(dir)) continue;
    for (const name of host.list(dir)) {
      // apt's cache may hold thousands of packages, always world-readable: skip the lstat.
      if (name.endsWith('.deb')) continue;
      const path = `${dir}/${name}`;
      const entry = host.stat(path);
      if (!entry || entry.type === 'other' || host.readable(path, entry)) continue;
      if (entry.type === 'dir') {
        items.push({ kind: 'dir', path, mode: entry.mode, like: path, why: 'unreadable directory' });
      } else if (entry.size === 0) {
        items.push({ kind: 'file', path, content: '', mode: entry.mode, like: path, why: 'unreadable empty file' });
      } else if (LOG_DIRS.some((logDir) => path.startsWith(logDir))) {
        items.push({ kind: 'file', path, content: '', mode: entry.mode, like: path, why: 'unreadable log' });
      }
    }
  }
  return items;
}

/**
 * Maintainer scripts add system users with useradd, which rewrites /etc/shadow and
 * /etc/gshadow (and their "-" backups) and fails when it cannot read them. The env gets
 * its own, with every account locked ("*"): the host's hashes are not readable anyway,
 * and nothing inside logs in with a password (you are root there already).
 */
export function accountItems(host: HostView): UpperItem[] {
  const items: UpperItem[] = [];
  for (const file of SHADOW_FILES) {
    const entry = host.stat(file.path);
    const source = host.read(file.from);
    if (!entry || entry.type !== 'file' || host.readable(file.path, entry) || source === undefined) continue;
    const lines = source
      .split('\n')
      .filter((line) => line.includes(':'))
      .map((line) => file.line(line.split(':')));
    const content = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    items.push({ kind: 'file', path: file.path, content, mode: entry.mode, like: file.path, why: 'locked accounts' });
  }
  return items;
}

/**
 * dpkg's journal: while the host's dpkg runs, /var/lib/dpkg/updates holds its pending
 * changes to the host's status. An env that saw them would apply them to its own
 * database, or refuse to run ("dpkg was interrupted"). The env keeps its own journal.
 */
export function dpkgJournalItems(host: HostView): UpperItem[] {
  const entry = host.stat('/var/lib/dpkg/updates');
  if (entry?.type !== 'dir') return [];
  const why = "the env's own dpkg journal";
  return [
    { kind: 'dir', path: '/var/lib/dpkg/updates', mode: entry.mode, like: '/var/lib/dpkg/updates', opaque: true, why },
  ];
}

/** Package-manager settings that only matter when venv is not real root (fuse-overlayfs). */
export function rootlessSettingItems(host: HostView): UpperItem[] {
  const items: UpperItem[] = [];
  if (host.stat('/etc/apt/apt.conf.d')?.type === 'dir') {
    items.push({
      kind: 'file',
      path: '/etc/apt/apt.conf.d/00venv-sandbox',
      mode: 0o644,
      why: 'apt sandbox user',
      content: [
        '// Written by venv (docs/packages.md). apt downloads as the user _apt, which cannot write',
        "// in this env: every host file shows as root's here, and with a single id mapping _apt",
        '// has no id at all. Download as root instead.',
        'APT::Sandbox::User "root";',
        '',
      ].join('\n'),
    });
  }
  // man-db's trigger runs mandb as the user "man", who cannot write /var/cache/man here
  // (owned by the host's "man", shown as root's): it prints a screen of "Permission
  // denied" after every install. Without this file the trigger skips the index, as in
  // Debian's container images; `man` itself still works.
  if (host.stat('/var/lib/man-db/auto-update')?.type === 'file') {
    items.push({ kind: 'whiteout', path: '/var/lib/man-db/auto-update', why: 'man-db index update' });
  }
  return items;
}

/**
 * An env is not a machine with its own init: a daemon that a maintainer script starts
 * would run inside the env's namespaces until the last session leaves, on the host's
 * network. invoke-rc.d and deb-systemd-invoke ask policy-rc.d first; 101 means "not
 * now", as in Debian's container images. `service NAME start` still starts it by hand.
 */
export function serviceStartItems(host: HostView): UpperItem[] {
  if (host.stat('/usr/sbin/invoke-rc.d') === undefined || host.stat('/usr/sbin/policy-rc.d') !== undefined) return [];
  const content = '#!/bin/sh\n# Written by venv (docs/packages.md): services are not started in an env.\nexit 101\n';
  return [{ kind: 'file', path: '/usr/sbin/policy-rc.d', content, mode: 0o755, why: 'no service starts' }];
}

/** dpkg's hook that keeps the base of `venv sync-pkgdb`'s merge (see pkgdb-files.ts). */
export function pkgDbBaseItems(host: HostView): UpperItem[] {
  if (host.stat('/etc/dpkg/dpkg.cfg.d')?.type !== 'dir') return [];
  return [
    { kind: 'dir', path: BASE_STATUS_DIR, mode: 0o755, why: 'pkgdb base' },
    { kind: 'file', path: DPKG_HOOK_FILE, content: dpkgHookConfig(), mode: 0o644, why: 'pkgdb base hook' },
  ];
}

export function planPackagePrep(mapping: Mapping, host: HostView = realHost): UpperItem[] {
  // Real root: the kernel's overlayfs, which reads neither ".wh." files nor needs the rest.
  if (mapping === 'host') return [...serviceStartItems(host), ...pkgDbBaseItems(host)];
  return [
    ...unreadableStateItems(host),
    ...accountItems(host),
    ...rootlessSettingItems(host),
    ...dpkgJournalItems(host),
    ...serviceStartItems(host),
    ...pkgDbBaseItems(host),
  ];
}

/**
 * An env on a base (create --base): what it runs is the base's, whose files its own ids
 * own, so nothing of the host's is unreadable and there is no host dpkg database to track.
 * It keeps the apt sandbox setting (fuse-overlayfs shows every file as root's) and the
 * rule that no service starts.
 */
export function planBasePrep(base: HostView, mapping: Mapping): UpperItem[] {
  if (mapping === 'host') return serviceStartItems(base);
  return [...rootlessSettingItems(base), ...serviceStartItems(base)];
}

/**
 * Prepares an env's upper dir for package managers. Idempotent: what the upper dir holds
 * already (the env's own lock, log or shadow) is left alone, so it can run again on a
 * restored env. The env must not be in use.
 */
export async function prepareEnvForPackages(
  paths: EnvPaths,
  meta: Pick<EnvMeta, 'mapping' | 'backend'>,
  baseTree?: string,
): Promise<number> {
  const { mapping } = meta;
  let items = baseTree === undefined ? planPackagePrep(mapping) : planBasePrep(baseTreeView(baseTree), mapping);
  // An env whose database changed before it had the hook (made by an older venv): its
  // base is lost, and the hook would now take the env's own status for it, making the
  // env's installs look like nothing. Without the hook, sync-pkgdb merges two-way.
  const has = (path: string) => lstatEnvFile(...inUpper(paths.upper, path)) !== undefined;
  if (has(HOST_STATUS) && !has(BASE_STATUS)) items = items.filter((i) => i.path !== DPKG_HOOK_FILE);
  const { written, created } = await writeIntoUpper(paths.upper, items, mapping);
  const xattr = opaqueXattr(meta.backend, mapping);
  recordPrepared(paths, xattr ? await toKernelMarkers(paths.upper, created, mapping, xattr) : created);
  return written;
}
