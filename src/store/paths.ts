// Where venv keeps things. One directory per env under $VENV_HOME/envs:
//
//   envs/NAME/            mode 0700
//     env.json            metadata (see store.ts)
//     upper/              the overlay's upper dir: every change the env made, rooted at /
//     work/               the overlay's work dir
//     merged/             mount point of the env's / (only inside the env's namespace)
//     run/                runtime state: locks, keeper file, binds.fstab, logs
//   locks/NAME.lock       proper-lockfile lock for create, rm, commit, snapshot, ...
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { xdgData } from 'xdg-basedir';

let checkedHome: string | undefined;

/** Set by the CLI once it has checked VENV_HOME (home-trust.ts): its resolved path, used from then on. */
export function useCheckedHome(home: string): void {
  checkedHome = home;
}

/** Always absolute: the env's paths are used after nsenter, which moves to the env's root. */
export function venvHome(env: NodeJS.ProcessEnv = process.env): string {
  if (checkedHome !== undefined && env === process.env) return checkedHome;
  if (env.VENV_HOME) return resolve(env.VENV_HOME);
  return resolve(env.XDG_DATA_HOME || xdgData || join(homedir(), '.local', 'share'), 'venv');
}

export interface EnvPaths {
  name: string;
  dir: string;
  meta: string;
  upper: string;
  work: string;
  merged: string;
  run: string;
  keeperFile: string;
  bindsFstab: string;
  lockTarget: string;
}

export function envPaths(name: string, home: string = venvHome()): EnvPaths {
  const dir = join(home, 'envs', name);
  const run = join(dir, 'run');
  return {
    name,
    dir,
    meta: join(dir, 'env.json'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'merged'),
    run,
    keeperFile: join(run, 'keeper'),
    bindsFstab: join(run, 'binds.fstab'),
    lockTarget: join(home, 'locks', name),
  };
}

export function envsDir(home: string = venvHome()): string {
  return join(home, 'envs');
}

/** Directory of the shell scripts that run on the namespace side (copied next to dist). */
export function runtimeDir(): string {
  return new URL('../runtime/', import.meta.url).pathname;
}
