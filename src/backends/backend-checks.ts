// venv doctor's view of the backends: which one new envs get and why, and what the
// machine lacks for the fast one. With the host's own checks (host/host-checks.ts) these
// are what `venv create` and a failed entry consult.
import { type Check, findProgram, hostChecks, isRealRoot } from '../host/host-checks.js';
import { overlayProblem } from './choose-backend.js';

export function backendChecks(home: string): Check[] {
  if (isRealRoot()) return [];
  const problem = overlayProblem(home);
  const fuseOverlayfs = findProgram('fuse-overlayfs');
  return [
    {
      name: 'overlay backend',
      ok: problem === undefined,
      // Not required while fuse-overlayfs can stand in (it is slower, and hides ownership).
      required: fuseOverlayfs === undefined,
      detail: problem
        ? `not available: ${problem.detail}`
        : "the kernel's overlayfs over venv-rootview: new envs get it (native speed, ownership shown)",
      fix: problem?.fix ?? '',
    },
    {
      name: 'fuse-overlayfs',
      ok: fuseOverlayfs !== undefined,
      // Needed by envs that use it, and by new ones while the overlay backend cannot run.
      required: problem !== undefined,
      detail: fuseOverlayfs
        ? `${fuseOverlayfs}${problem ? ': new envs get it' : ' (the fallback backend, and envs made with it)'}`
        : 'not found',
      fix: 'sudo apt-get install fuse-overlayfs',
    },
  ];
}

/** Everything that decides whether envs kept under `home` can run here. */
export function machineChecks(home: string): Check[] {
  return [...hostChecks(), ...backendChecks(home)];
}
