// Whether VENV_HOME is the user's own, judged much as ssh's StrictModes judges a home:
// whoever can write VENV_HOME or a directory above it can swap an env for one of theirs
// (and have its code run as the user), or plant a link where venv writes a log. So:
//   - symlinks are resolved first, and the resolved path is what venv uses from then on;
//   - every directory above it is owned by root or the user, and not writable by group
//     or others unless it is sticky (as /tmp is), in which case the entry below it must
//     be the user's or root's (the sticky bit lets only an entry's owner rename or remove it);
//   - VENV_HOME itself and what venv keeps in it (envs/, locks/, snapshots/, tmp/, layers/, and
//     each env dir and its run/: see env-files.ts, which checks those on every open) are
//     the user's, directories, and not writable by group or others.
// Nobody but the user and root can change a directory that passed: that is what lets
// bin/venv's fast path trust, with a few `[ -O ]` tests, an env whose run/mapping node
// wrote after this check (see RUNTIME_LAYOUT in env-store.ts and docs/runtime.md).
import { accessSync, constants, lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { VenvError } from '../errors.js';
import { useCheckedHome, venvHome } from './paths.js';

/** What venv makes in VENV_HOME. */
const OWN_DIRS = ['envs', 'locks', 'snapshots', 'tmp', 'layers'];

/** A VENV_HOME's problem, as one line and the fix. */
export interface HomeProblem {
  detail: string;
  fix: string;
  /** Not a danger, only a directory venv cannot make. */
  unusable?: true;
}

/**
 * The path with its symlinks resolved, as far as it exists (what does not exist yet is
 * appended as given: venv will make it).
 */
export function resolveHome(home: string): string {
  let existing = home;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(existing), ...rest);
    } catch {
      if (existing === '/') return home;
      rest.unshift(existing.slice(dirname(existing).length).replace(/^\//, ''));
      existing = dirname(existing);
    }
  }
}

function lstatOrNothing(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** The problem with a resolved VENV_HOME, or undefined when it is the user's own. */
export function homeProblem(home: string, uid = process.getuid?.() ?? 0): HomeProblem | undefined {
  const parts = home.split('/').filter(Boolean);
  let above: Stats | undefined = lstatOrNothing('/');
  let path = '';
  for (let i = 0; i < parts.length; i++) {
    path = `${path}/${parts[i]}`;
    const parent = dirname(path);
    const stat = lstatOrNothing(path);
    if (above) {
      const worldWritable = (above.mode & 0o022) !== 0;
      if (above.uid !== 0 && above.uid !== uid) {
        return {
          detail: `${parent}, a directory above VENV_HOME, belongs to uid ${above.uid}, who can replace what is in it`,
          fix: `choose a VENV_HOME in a directory of yours (export VENV_HOME=~/.local/share/venv)`,
        };
      }
      if (worldWritable && (above.mode & 0o1000) === 0) {
        return {
          detail: `${parent} (mode ${octal(above.mode)}), above VENV_HOME, can be written by others and is not sticky`,
          fix: `chmod go-w ${parent}, or choose a VENV_HOME elsewhere`,
        };
      }
      if (worldWritable && stat && stat.uid !== uid && stat.uid !== 0) {
        return {
          detail: `${path} is in the shared directory ${parent} and belongs to uid ${stat.uid}, not to you`,
          fix: `choose a VENV_HOME of your own (mkdir -m 700 a new one)`,
        };
      }
    }
    // venv makes the rest, as the user's, mode 0700: if it may.
    if (!stat) return cannotMake(parent, home);
    if (!stat.isDirectory()) {
      return {
        detail: `${path} is not a directory`,
        fix: `point VENV_HOME at a directory (now ${home})`,
      };
    }
    above = stat;
  }
  for (const sub of ['', ...OWN_DIRS]) {
    const dir = sub ? join(home, sub) : home;
    const stat = lstatOrNothing(dir);
    if (!stat) continue;
    if (!stat.isDirectory())
      return { detail: `${dir} is not a directory`, fix: `remove it, or choose another VENV_HOME` };
    if (stat.uid !== uid) {
      return { detail: `${dir} belongs to uid ${stat.uid}, not to you`, fix: 'choose a VENV_HOME of your own' };
    }
    if ((stat.mode & 0o022) !== 0) {
      return {
        detail: `${dir} (mode ${octal(stat.mode)}) can be written by group or others`,
        fix: `chmod go-w ${dir}`,
      };
    }
  }
  return undefined;
}

/** Whether the user may make VENV_HOME (its missing part) in `parent`, the last directory that exists. */
function cannotMake(parent: string, home: string): HomeProblem | undefined {
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
    return undefined;
  } catch {
    return {
      detail: `${home} does not exist, and you may not create it in ${parent}`,
      unusable: true,
      fix: `choose a VENV_HOME of yours (export VENV_HOME=~/.local/share/venv), or have it made for you: sudo install -d -m 700 -o "$USER" ${home}`,
    };
  }
}

/** Throws the VenvError for an unsafe VENV_HOME; returns the resolved path otherwise. */
export function checkVenvHome(home: string): string {
  const resolved = resolveHome(home);
  const problem = homeProblem(resolved);
  if (problem) {
    const what = problem.unusable ? 'VENV_HOME cannot be used' : 'VENV_HOME is not safe to use';
    throw new VenvError('VENV_HOME_UNSAFE', `${what}: ${problem.detail}`, { hint: problem.fix });
  }
  return resolved;
}

/** For the CLI, before any command but doctor: checks VENV_HOME and uses its resolved path from then on. */
export function guardVenvHome(): void {
  useCheckedHome(checkVenvHome(venvHome()));
}
