import { enterEnv } from '../runtime/enter-env.js';
import { assertValidEnvName } from '../store/env-name.js';
import { VenvError } from '../errors.js';
import { venvHome } from '../store/paths.js';
import { envExists } from '../store/env-store.js';
import { USER_SPEC } from '../store/bases.js';

/** --user's value, checked for form (its names are looked up in the env on entry). */
function checkUser(user: string | undefined): string | undefined {
  if (user === undefined || USER_SPEC.test(user)) return user;
  throw new VenvError('USAGE', `bad --user "${user}": expected USER or USER:GROUP, a name or a number each`, {
    hint: "venv run --user 1000:1000 NAME -- id (options go before the env's name)",
  });
}

export interface RunOptions {
  name: string;
  command: string[];
  home?: string;
  /** No warnings from entering (--quiet). */
  quiet?: boolean;
  /** --user USER[:GROUP]: run as that user of the env (root: 0). */
  user?: string;
}

/** `venv run NAME -- CMD...`: resolves with the command's exit status. */
export async function runInEnv(options: RunOptions): Promise<number> {
  assertValidEnvName(options.name);
  if (options.command.length === 0) {
    throw new VenvError('USAGE', 'no command given', { hint: `venv run ${options.name} -- COMMAND [ARGS...]` });
  }
  const user = checkUser(options.user);
  return enterEnv({ name: options.name, command: options.command, home: options.home, quiet: options.quiet, user });
}

export interface ShellOptions {
  name: string;
  home?: string;
  /** No messages or warnings from entering (--quiet). */
  quiet?: boolean;
  /** --user USER[:GROUP]: the shell as that user of the env. */
  user?: string;
}

/** `venv shell NAME`: the user's shell in the env, which is created first if missing. */
export async function shell(options: ShellOptions): Promise<number> {
  assertValidEnvName(options.name);
  const user = checkUser(options.user);
  const home = options.home ?? venvHome();
  if (!(await envExists(options.name, home))) {
    // Loaded only here: it brings proper-lockfile, ~40 ms of start-up the common case skips.
    const { create } = await import('./create.js');
    await create({ name: options.name, home });
    if (!options.quiet) process.stderr.write(`venv: created env "${options.name}"\n`);
  }
  return enterEnv({ name: options.name, home, quiet: options.quiet, user });
}
