// Which backend a new env gets: the kernel's overlayfs wherever this machine can run it
// rootless, else fuse-overlayfs. Decided once, at creation, because the upper dir's form
// depends on it (see backend.ts). Checks are cheap: no mount is tried.
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import { VenvError } from '../errors.js';
import { findProgram, type Mapping } from '../host/host-checks.js';
import { type BackendName, isBackendName } from './backend.js';

/** Where `npm run build` puts the native view (absent where it could not be compiled). */
function rootviewPath(): string {
  return new URL('../../native/venv-rootview', import.meta.url).pathname;
}

/**
 * Filesystems known to keep user.* xattrs on files and directories, by statfs magic.
 * overlayfs in a user namespace stores its markers there (user.overlay.opaque, ...).
 * tmpfs has them since Linux 6.6; the kernel check below covers the older ones.
 */
const USER_XATTR_FILESYSTEMS = new Map<number, string>([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0xf2f52010, 'f2fs'],
  [0x01021994, 'tmpfs'],
]);

/** [major, minor] of the running kernel. */
function kernelVersion(text = release()): [number, number] {
  const [major = 0, minor = 0] = text.split(/[.-]/).map(Number);
  return [major, minor];
}

function atLeast([major, minor]: [number, number], [wantMajor, wantMinor]: [number, number]): boolean {
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

export interface Problem {
  detail: string;
  fix: string;
}

/**
 * What builds the native helpers here: `npm run build` in a checkout; in a package
 * installed from `npm pack`'s tarball (C sources, no TypeScript), the script npm's install
 * hook ran, which a machine without a compiler then could not use.
 */
function buildNativeCommand(): string {
  const root = new URL('../../../', import.meta.url).pathname;
  return existsSync(`${root}src/cli.ts`) ? 'npm run build' : `node ${root}scripts/build-native.mjs`;
}

/** Why the rootless kernel overlay cannot serve envs kept under `home`; undefined if it can. */
export function overlayProblem(home: string): Problem | undefined {
  try {
    accessSync(rootviewPath(), constants.X_OK);
  } catch {
    return {
      detail: 'venv-rootview, the native view the kernel overlay needs, was not built',
      fix: `sudo apt-get install gcc pkg-config libfuse3-dev && ${buildNativeCommand()}`,
    };
  }
  const kernel = kernelVersion();
  // userxattr, which lets overlayfs keep its markers in a user namespace, came in 5.11.
  if (!atLeast(kernel, [5, 11])) {
    return { detail: `Linux ${kernel.join('.')} is older than 5.11 (no userxattr overlays)`, fix: 'a newer kernel' };
  }
  let type: number | undefined;
  try {
    type = statfsSync(existingAncestor(home)).type;
  } catch {
    type = undefined;
  }
  const fsName = type === undefined ? undefined : USER_XATTR_FILESYSTEMS.get(type);
  if (!fsName || (fsName === 'tmpfs' && !atLeast(kernel, [6, 6]))) {
    return {
      detail: `${home} is on a filesystem that may not keep user xattrs (statfs type ${type?.toString(16) ?? '?'})`,
      fix: 'set VENV_HOME to a directory on ext4, xfs or btrfs',
    };
  }
  return undefined;
}

function existingAncestor(path: string): string {
  let dir = path;
  for (;;) {
    try {
      accessSync(dir);
      return dir;
    } catch {
      const parent = dir.slice(0, dir.lastIndexOf('/')) || '/';
      if (parent === dir) return dir;
      dir = parent;
    }
  }
}

export interface BackendChoice {
  backend: BackendName;
  /** One line: why this backend. */
  reason: string;
}

/**
 * The backend for a new env: `requested` (the --backend option, else VENV_BACKEND) when
 * given, else the kernel overlay where it works. Real root always gets the kernel's
 * overlayfs of / itself.
 */
export function chooseBackend(
  mapping: Mapping,
  home: string,
  requested: string | undefined = process.env.VENV_BACKEND || undefined,
): BackendChoice {
  if (requested !== undefined && !isBackendName(requested)) {
    throw new VenvError('USAGE', `unknown backend "${requested.slice(0, 40)}"`, {
      hint: 'the backends are "overlay" and "fuse-overlayfs" (see "venv doctor")',
    });
  }
  if (mapping === 'host') {
    if (requested === 'fuse-overlayfs') {
      throw new VenvError('USAGE', 'as real root, envs use the kernel overlayfs', {
        hint: 'leave out --backend (and VENV_BACKEND), or create the env as an ordinary user',
      });
    }
    return { backend: 'overlay', reason: 'real root: the kernel overlayfs of /' };
  }
  const problem = overlayProblem(home);
  if (requested === 'overlay' && problem) {
    throw new VenvError('TOOL_MISSING', `the overlay backend cannot run here: ${problem.detail}`, {
      hint: `fix: ${problem.fix}; or use --backend fuse-overlayfs`,
    });
  }
  if (requested === 'fuse-overlayfs' || problem) {
    if (!findProgram('fuse-overlayfs')) {
      throw new VenvError('TOOL_MISSING', 'fuse-overlayfs is not installed', {
        hint: problem
          ? `fix: sudo apt-get install fuse-overlayfs (or: ${problem.fix})`
          : 'fix: sudo apt-get install fuse-overlayfs',
      });
    }
    return {
      backend: 'fuse-overlayfs',
      reason: requested ? 'chosen (--backend or VENV_BACKEND)' : `the overlay backend cannot run: ${problem?.detail}`,
    };
  }
  return {
    backend: 'overlay',
    reason: requested ? 'chosen (--backend or VENV_BACKEND)' : 'the kernel overlayfs over venv-rootview works here',
  };
}
