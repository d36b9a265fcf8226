#!/usr/bin/env node
// `npm test` after build and lint: the unit and end-to-end tests (compiled to dist/test)
// in one `node --test` run, so that one summary ("# pass N", "# fail N") ends the output.
// The end-to-end tests must run as an unprivileged user (rootless envs are the point): as
// root, the whole run drops to VENV_TEST_USER (default venvtest) through runuser.
//
//   node scripts/run-tests.mjs [FILE_OR_DIR...]      default: dist/test/unit dist/test/e2e
//   VENV_TEST_CONCURRENCY=N                          test files run at once (default 2: the machine has 2 cores, and dpkg tests hit ENOENT from fuse-overlayfs under heavier load)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const targets = process.argv.slice(2);
if (targets.length === 0) targets.push('dist/test/unit/', 'dist/test/e2e/');
for (const target of targets) {
  if (!existsSync(new URL(target, `file://${root}`))) fail(`${target} does not exist: run "npm run build" first`);
}

// Test files are independent (each has its own VENV_HOME), and mostly wait on processes.
const concurrency = process.env.VENV_TEST_CONCURRENCY ?? '2';
const nodeArgs = [
  '--test',
  '--test-reporter=tap',
  '--test-reporter-destination=stdout',
  `--test-concurrency=${concurrency}`,
  '--test-timeout=120000',
  ...targets,
];

let command = [process.execPath, ...nodeArgs];
if (process.getuid?.() === 0) {
  const user = process.env.VENV_TEST_USER || 'venvtest';
  if (spawnSync('id', ['-u', user], { stdio: 'ignore' }).status !== 0) {
    fail(
      `running as root, but the test user "${user}" does not exist. The end-to-end tests run as an ` +
        `unprivileged user with subordinate ids. Create one:\n` +
        `  useradd --create-home ${user}\n` +
        `  usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}\n` +
        `  chmod 0666 /dev/fuse\n` +
        `or set VENV_TEST_USER to an existing one, or run .ci/run, which does all of it.`,
    );
  }
  const probe = spawnSync('runuser', ['-u', user, '--', 'test', '-r', `${root}/dist/test/e2e`], { stdio: 'ignore' });
  if (probe.status !== 0) {
    fail(
      `the test user "${user}" cannot read ${root}dist/test: make the checkout readable (chmod -R o+rX) and its parent directories searchable (chmod o+x)`,
    );
  }
  command = ['runuser', '-u', user, '--', ...command];
}

// `npm test` exports root's npm settings (npm_config_cache=/root/.npm, ...): as the test
// user they would send an `npm install -g` inside an env to directories it cannot write.
const env = { ...process.env };
if (process.getuid?.() === 0) for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];

process.stderr.write(`running: ${command.join(' ')}\n`);
const result = spawnSync(command[0], command.slice(1), { cwd: root, stdio: 'inherit', env });
if (result.error) fail(`cannot run ${command[0]}: ${result.error.message}`);
process.exitCode = result.status ?? 1;

function fail(message) {
  process.stderr.write(`run-tests: ${message}\n`);
  process.exit(2);
}
