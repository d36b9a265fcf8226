// What entering an env costs: `venv run E -- true` next to the same setup and teardown done
// by hand (scripts/raw-enter.sh) and next to node's bare start-up.
import type { Row } from './bench-format.js';
import { median } from './bench-format.js';
import { type BenchEnv, nodeCli, onHost, rawEnter, venvRun } from './bench-env.js';
import { type Step, timeInRounds } from './bench-measure.js';

const GROUP = 'Entering an env: a command that does nothing';
/** The target for `venv run E -- true` against the raw script. */
export const TARGET_RATIO = 1.6;

const RAW = '`scripts/raw-enter.sh DIR true` (by hand)';
const VENV = '`venv run E -- true`';

export interface EntryOptions {
  benchEnv: BenchEnv;
  /** A directory for raw-enter.sh's own upper, work and merged dirs. */
  rawDir: string;
  runs: number;
  warmup: number;
  progress: (done: number, total: number) => void;
}

function rawStep(options: EntryOptions): Step {
  return { key: 'raw', command: onHost(options.benchEnv, rawEnter, [options.rawDir, 'true']) };
}

/** Each `venv run` starts the env and ends it: nothing else holds it open. */
export async function benchEntry(options: EntryOptions): Promise<Row[]> {
  const { benchEnv, runs, warmup, progress } = options;
  const steps: Step[] = [
    rawStep(options),
    { key: 'venv', command: venvRun(benchEnv, ['true']) },
    { key: 'node', command: onHost(benchEnv, process.execPath, ['-e', '0']) },
    { key: 'cli', command: onHost(benchEnv, process.execPath, [nodeCli, 'run', benchEnv.name, '--', 'true']) },
  ];
  const times = await timeInRounds(steps, runs, warmup, progress);
  const ms = (key: string) => median(times.get(key) ?? []);
  const raw = { label: 'raw script', ms: ms('raw') };
  const node = { label: '`node -e 0`', ms: ms('node') };
  const ratio = ms('venv') / raw.ms;
  return [
    { group: GROUP, label: RAW, ms: raw.ms, runs, note: 'the baseline: no keeper, no locks, nothing to join' },
    {
      group: GROUP,
      label: `${VENV} (bin/venv, shell fast path)`,
      ms: ms('venv'),
      runs,
      baseline: raw,
      note: `target < ${TARGET_RATIO}x: ${ratio < TARGET_RATIO ? 'met' : 'MISSED'}`,
    },
    { group: GROUP, label: `${VENV} (same runs)`, ms: ms('venv'), runs, baseline: node },
    { group: GROUP, label: '`node -e 0`', ms: node.ms, runs, baseline: raw, note: 'node start-up alone' },
    {
      group: GROUP,
      label: '`node dist/src/cli.js run E -- true`',
      ms: ms('cli'),
      runs,
      baseline: raw,
      note: 'the CLI path bin/venv skips',
    },
  ];
}

/** With the env already entered by another session: `venv run` only joins it. */
export async function benchJoin(options: EntryOptions): Promise<Row[]> {
  const { benchEnv, runs, warmup, progress } = options;
  const steps: Step[] = [rawStep(options), { key: 'join', command: venvRun(benchEnv, ['true']) }];
  const times = await timeInRounds(steps, runs, warmup, progress);
  const raw = median(times.get('raw') ?? []);
  return [
    {
      group: GROUP,
      label: `${VENV}, joining an env another session holds open`,
      ms: median(times.get('join') ?? []),
      runs,
      baseline: { label: 'raw script (same rounds)', ms: raw },
      note: 'no mount, no teardown',
    },
  ];
}
