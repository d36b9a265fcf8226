// The env the benchmark works in, and the commands that reach it. Everything goes through
// bin/venv, the entry point a user types, except the one row that shows the node path.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../src/backends/backend.js';
import { runningEnv } from '../src/store/env-state.js';
import type { Command } from './bench-measure.js';
import { timeCommand } from './bench-measure.js';

/** The checkout's root: this file runs as dist/scripts/bench-env.js. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const venvBin = `${repoRoot}bin/venv`;
export const nodeCli = `${repoRoot}dist/src/cli.js`;
export const rawEnter = `${repoRoot}scripts/raw-enter.sh`;

export interface BenchEnv {
  name: string;
  /** How the env is mounted (venv create --backend). */
  backend: BackendName;
  home: string;
  /** Where commands run (the scratch dir: /tmp is shared, so it is the same path inside). */
  cwd: string;
  /** The environment every timed command gets (VENV_HOME set). */
  env: NodeJS.ProcessEnv;
}

/** `bin/venv run NAME -- ARGS...` */
export function venvRun(benchEnv: BenchEnv, args: readonly string[]): Command {
  return { file: venvBin, args: ['run', benchEnv.name, '--', ...args], cwd: benchEnv.cwd, env: benchEnv.env };
}

/** A command on the host, with the same cwd and environment as the ones in the env. */
export function onHost(benchEnv: BenchEnv, file: string, args: readonly string[]): Command {
  return { file, args, cwd: benchEnv.cwd, env: benchEnv.env };
}

/**
 * `sh -c SCRIPT sh ARGS...` that times SCRIPT itself and prints `bench-ns N` last (see
 * Step.selfTimed): inside an env that leaves out entering and leaving it. `date` runs on
 * both sides of the comparison alike; SCRIPT's own output comes first.
 */
export function selfTimed(script: string, args: readonly string[] = []): readonly string[] {
  const timed = `t0=$(date +%s%N)\n${script}\nt1=$(date +%s%N)\necho "bench-ns $((t1 - t0))"`;
  return ['sh', '-ec', timed, 'sh', ...args];
}

export async function createEnv(benchEnv: BenchEnv): Promise<void> {
  const args = ['create', '--backend', benchEnv.backend, benchEnv.name];
  await timeCommand({ file: venvBin, args, cwd: benchEnv.cwd, env: benchEnv.env });
}

/**
 * Keeps the env entered by a second session until the returned function is called, so
 * that the timed commands join a running env (mount and kernel caches stay) instead of
 * starting and ending one each time. The session reads stdin: closing it ends it cleanly.
 */
export async function holdOpen(benchEnv: BenchEnv): Promise<() => Promise<void>> {
  const command = venvRun(benchEnv, ['sh', '-c', 'read -r _ || :']);
  const child = spawn(command.file, command.args, {
    cwd: command.cwd,
    env: command.env,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  for (let i = 0; i < 250 && !runningEnv(benchEnv.name, benchEnv.home); i++) {
    if (child.exitCode !== null) throw new Error('the session holding the env open ended early');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!runningEnv(benchEnv.name, benchEnv.home)) {
    await release(child, exited);
    throw new Error('the env did not come up within 5 s');
  }
  return () => release(child, exited);
}

async function release(child: ChildProcess, exited: Promise<void>): Promise<void> {
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
