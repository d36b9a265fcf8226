// A throwaway VENV_HOME under /tmp, owned by the user running the tests. Removing it needs
// the env's id mapping: files chowned inside an env belong to subordinate ids on the host.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function makeVenvHome(label: string): string {
  return mkdtempSync(join('/tmp', `venv-test-${label}-`));
}

export function removeVenvHome(home: string): void {
  try {
    execFileSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', '--', home], { stdio: 'ignore' });
  } catch {
    // no subordinate ids here: what the user owns can still go
  }
  try {
    // fuse-overlayfs leaves a mode-000 directory in the work dir.
    execFileSync('chmod', ['-R', 'u+rwx', '--', home], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  rmSync(home, { recursive: true, force: true });
}

/** A fresh directory under a shared host directory (/tmp or the user's home). */
export function makeSharedDir(parent: string, label: string): string {
  return mkdtempSync(join(parent, `venv-test-${label}-`));
}
