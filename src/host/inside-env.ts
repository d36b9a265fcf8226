// venv inside an env: keeper.sh writes the env's name to /run/.venv-env, in the env's own
// /run (a tmpfs only its processes see). venv refuses to run there (bin/venv checks the
// same file first): uid 0 inside is not real root, a VENV_HOME under the shared home would
// get envs made with the "host" mapping that the host cannot enter, and a chrooted process
// may not make the namespaces an env needs anyway.
import { readFileSync } from 'node:fs';
import { VenvError } from '../errors.js';

export const INSIDE_ENV_MARKER = '/run/.venv-env';

/** The name of the env this process runs in, or undefined on the host. */
export function insideEnvName(): string | undefined {
  try {
    return readFileSync(INSIDE_ENV_MARKER, 'utf8').trim().slice(0, 64) || '?';
  } catch {
    return undefined;
  }
}

/** Refuses (one line, exit 125) when called inside an env. */
export function refuseInsideEnv(): void {
  const name = insideEnvName();
  if (name === undefined) return;
  throw new VenvError('INSIDE_ENV', `venv does not run inside an env (this is env "${name}"): run it on the host`);
}
