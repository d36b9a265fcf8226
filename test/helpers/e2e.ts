// Common set-up of an end-to-end test file: one temp VENV_HOME per file, a leak check
// after every test (it fails the test that leaked), and the reason to skip when this
// machine cannot run envs as the current user.
import { accessSync, constants, readFileSync } from 'node:fs';
import { afterEach, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import { assertNoLeftovers } from './leftovers.js';
import { makeVenvHome, removeVenvHome } from './venv-home.js';
import { killRunningSessions, venv, type VenvCallOptions } from './venv-cli.js';

function commandWorks(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function findSkipReason(): string | false {
  if (process.getuid?.() === 0) {
    return 'end-to-end tests run as an unprivileged user (npm test drops to VENV_TEST_USER when run as root)';
  }
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is not usable by this user (fix: sudo chmod 0666 /dev/fuse)';
  }
  if (!commandWorks('fuse-overlayfs', ['--version'])) return 'fuse-overlayfs is not installed';
  if (!commandWorks('unshare', ['--user', '--map-root-user', '--mount', 'true'])) {
    return 'unprivileged user namespaces are disabled';
  }
  return false;
}

/** False when the e2e tests can run here, else why not. */
export const skipReason: string | false = findSkipReason();

/** Whether envs created here map the subordinate ids (chown inside works). */
export const hasSubordinateIds: boolean =
  !skipReason && commandWorks('unshare', ['--user', '--map-root-user', '--map-auto', 'true']);

export interface E2E {
  home: string;
  venv(args: readonly string[], options?: VenvCallOptions): ReturnType<typeof venv>;
  /** Creates an env and fails the test if that did not work. */
  create(name: string): Promise<void>;
  envDir(name: string): string;
}

/** Call once at the top of a test file; `skip`: why this file cannot run here (default: skipReason). */
export function e2eSetup(label: string, skip: string | false = skipReason): E2E {
  const home = skip ? '/nonexistent' : makeVenvHome(label);
  if (!skip) {
    afterEach(async () => {
      await killRunningSessions();
      await assertNoLeftovers(home);
    });
    after(() => removeVenvHome(home));
  }
  return {
    home,
    venv: (args, options) => venv(home, args, options),
    async create(name) {
      const result = await venv(home, ['create', name]);
      if (result.exitCode !== 0) throw new Error(`venv create ${name} failed: ${result.stderr}`);
    },
    envDir: (name) => `${home}/envs/${name}`,
  };
}

/** The mapping an env was created with (env.json). */
export function envMapping(envDir: string): string {
  return (JSON.parse(readFileSync(`${envDir}/env.json`, 'utf8')) as { mapping: string }).mapping;
}
