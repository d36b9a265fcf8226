// Timing spawned commands for `npm run bench`: wall time from spawn to exit, measured with
// process.hrtime, in rounds so that the noise of a busy machine falls on every variant alike.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Command {
  file: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** A step of a round: a command and the name its times are filed under. */
export interface Step {
  key: string;
  command: Command;
  /**
   * The command times itself (see selfTimed in bench-env.ts): its time is what it prints
   * on its last line of output, not the wall time of the process (which includes entering).
   */
  selfTimed?: boolean;
  /** Only in the first this many timed rounds, and in no warm-up round (slow variants). */
  runs?: number;
}

/** The last line a self-timed command prints: `bench-ns NANOSECONDS`. */
function reportedMs(stdout: string): number {
  const match = /bench-ns (\d+)\s*$/.exec(stdout);
  if (!match) throw new Error(`a self-timed command printed no time: ${stdout.slice(-200)}`);
  return Number(match[1]) / 1e6;
}

export class BenchAborted extends Error {
  constructor() {
    super('benchmark interrupted');
    this.name = 'BenchAborted';
  }
}

/** Children running now, so that an interrupted bench can end them (see bench-cleanup.ts). */
export const running = new Set<ChildProcess>();
let aborted = false;

export function abortMeasuring(signal: NodeJS.Signals): void {
  aborted = true;
  for (const child of running) child.kill(signal);
}

/** Runs a command to completion; resolves with its wall time and stdout, rejects if it fails. */
export function timeCommand(command: Command): Promise<{ ms: number; stdout: string }> {
  if (aborted) return Promise.reject(new BenchAborted());
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let end = start;
    const child = spawn(command.file, command.args, {
      cwd: command.cwd,
      env: command.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The clock stops when the process has exited, which for venv and the raw script is
    // after their teardown; 'close' (all output read) may come a little later.
    child.on('exit', () => (end = process.hrtime.bigint()));
    child.on('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (aborted) return reject(new BenchAborted());
      if (code !== 0) {
        const shown = [command.file, ...command.args].join(' ');
        return reject(new Error(`${shown} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      }
      resolve({ ms: Number(end - start) / 1e6, stdout });
    });
  });
}

/**
 * Runs the steps in order, `warmup` times untimed and then `runs` times timed; returns the
 * times of each step by key (wall times, or what a self-timed step reports). One round runs every step once, so a step that leaves state
 * behind (an untar) can be followed by one that removes it (an rm -rf).
 */
export async function timeInRounds(
  steps: readonly Step[],
  runs: number,
  warmup: number,
  progress: (done: number, total: number) => void = () => undefined,
): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(steps.map((step) => [step.key, []]));
  for (let round = 0; round < warmup + runs; round++) {
    for (const step of steps) {
      if (step.runs !== undefined && (round < warmup || round - warmup >= step.runs)) continue;
      const { ms, stdout } = await timeCommand(step.command);
      if (round >= warmup) times.get(step.key)?.push(step.selfTimed ? reportedMs(stdout) : ms);
    }
    progress(round + 1, warmup + runs);
  }
  return times;
}
