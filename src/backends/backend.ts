// The overlay backends an env can be mounted with. The mounting itself is the shell
// side's (NAME.sh beside this file: mount_env_root, sourced by runtime/keeper.sh):
// entering must not need node. What the TypeScript side needs of a backend is here:
// its name in env.json, the form its upper dir keeps opaque directories in, and whether
// this machine can run it.
//
//   overlay         the kernel's overlayfs. Rootless, its lower layer is venv-rootview, a
//                   read-only FUSE view of / (src/native/rootview) that shows every file as
//                   root's: writes run at the host's speed, chown shows. As real root, / itself.
//   fuse-overlayfs  fuse-overlayfs with squash_to_root: every file shows as root's and chown
//                   does not show; every write and lookup is a FUSE round trip. The fallback.
import type { Mapping } from '../host/host-checks.js';

export const BACKEND_NAMES = ['overlay', 'fuse-overlayfs'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function isBackendName(value: unknown): value is BackendName {
  return (BACKEND_NAMES as readonly unknown[]).includes(value);
}

/**
 * The xattr that marks an opaque directory in the upper dir, where the backend reads one;
 * undefined where it reads the OCI form (a `.wh..wh..opq` file inside the directory).
 * Both overlays read 0/0 character devices as whiteouts.
 */
export function opaqueXattr(backend: BackendName, mapping: Mapping): string | undefined {
  if (backend === 'fuse-overlayfs') return undefined;
  // The kernel takes trusted.* only from real root; in a user namespace it is mounted
  // with userxattr and reads user.overlay.*.
  return mapping === 'host' ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
}

/** The backend of an env whose env.json names none: what venv used before there was a choice. */
export function legacyBackend(mapping: Mapping): BackendName {
  return mapping === 'host' ? 'overlay' : 'fuse-overlayfs';
}
