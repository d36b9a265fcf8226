import { VenvError } from '../errors.js';

/** Letters, digits, '.', '_' and '-'; not starting with '.' or '-'; 1 to 64 characters. */
const ENV_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function isValidEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** A name as messages show it: quoted, control characters escaped, cut to 64 characters. */
export function shownName(name: string, max = 64): string {
  const quoted = JSON.stringify(name.length > max ? name.slice(0, max) : name);
  return name.length > max ? `${quoted.slice(0, -1)}..."` : quoted;
}

export function assertValidEnvName(name: string): void {
  if (isValidEnvName(name)) return;
  const shown = shownName(name);
  let why = 'it may hold only letters, digits, ".", "_" and "-"';
  if (name.length === 0) why = 'it is empty';
  else if (name.length > 64) why = `it has ${name.length} characters, at most 64 are allowed`;
  else if (name.startsWith('.') || name.startsWith('-')) why = 'it may not start with "." or "-"';
  throw new VenvError('INVALID_ENV_NAME', `invalid env name ${shown}: ${why}`, {
    hint: 'pick a name like "work", "py3.12" or "build_env-2"',
  });
}
