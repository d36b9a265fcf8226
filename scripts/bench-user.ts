// venv is for unprivileged users, and as real root it takes another path (kernel overlayfs),
// so the benchmark always runs as an ordinary user: started as root, it starts itself again
// as VENV_TEST_USER (default venvtest) through runuser, the way the tests do.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TEST_USER = process.env.VENV_TEST_USER || 'venvtest';

/** An ordinary user's PATH: root's may hold directories the test user cannot search. */
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Runs this script again as the test user and resolves with its exit status. */
export async function rerunAsTestUser(argv: readonly string[]): Promise<number> {
  if (spawnSync('id', ['-u', TEST_USER], { stdio: 'ignore' }).status !== 0) {
    process.stderr.write(
      `bench: running as root, and user "${TEST_USER}" does not exist.\n` +
        `Create one (useradd -m ${TEST_USER}; usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${TEST_USER})\n` +
        'or set VENV_TEST_USER to an unprivileged user with a subuid range.\n',
    );
    return 125;
  }
  process.stderr.write(`bench: running as root; switching to user "${TEST_USER}"\n`);
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find((path) => existsSync(path)) ?? 'runuser';
  const child = spawn(runuser, ['-u', TEST_USER, '--', process.execPath, ...argv], {
    stdio: 'inherit',
    cwd: '/',
    env: { ...process.env, PATH: USER_PATH },
  });
  // Ctrl-C reaches the child directly (same terminal process group), and it cleans up:
  // wait for it. Other signals are meant for the benchmark: pass them on.
  const handlers = {
    SIGINT: () => undefined,
    SIGTERM: () => child.kill('SIGTERM'),
    SIGHUP: () => child.kill('SIGHUP'),
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 125)));
    child.on('error', (error) => {
      process.stderr.write(`bench: cannot run runuser: ${error.message}\n`);
      resolve(125);
    });
  });
}
