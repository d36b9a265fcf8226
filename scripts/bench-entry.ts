// What entering an env costs: `venv run E -- true` next to the same setup and teardown done
// by hand (scripts/raw-enter.sh, with the same backend) and next to node's bare start-up.
import type { Row } from './bench-format.js';
import { median } from './bench-format.js';
import { type BenchEnv, nodeCli, onHost, rawEnter, venvRun } from './bench-env.js';
import { type Step, timeInRounds } from './bench-measure.js';

const GROUP = 'Entering an env: a command that does nothing';
/** The target for `venv run E -- true` against the raw script. */
export const TARGET_RATIO = 1.6;

const VENV = '`venv run E -- true`';

export interface EntryOptions {
  /** One env per backend; the first is the one the node rows use. */
  benchEnvs: readonly BenchEnv[];
  /** A directory for raw-enter.sh's own upper, work and merged dirs (one per backend). */
  rawDir: string;
  runs: number;
  warmup: number;
  progress: (done: number, total: number) => void;
}

function rawStep(options: EntryOptions, benchEnv: BenchEnv): Step {
  const dir = `${options.rawDir}/${benchEnv.backend}`;
  return {
    key: `raw-${benchEnv.backend}`,
    command: onHost(benchEnv, rawEnter, ['--backend', benchEnv.backend, dir, 'true']),
  };
}

/** Each `venv run` starts the env and ends it: nothing else holds it open. */
export async function benchEntry(options: EntryOptions): Promise<Row[]> {
  const { benchEnvs, runs, warmup, progress } = options;
  const first = benchEnvs[0] as BenchEnv;
  const steps: Step[] = [
    ...benchEnvs.flatMap((benchEnv) => [
      rawStep(options, benchEnv),
      { key: `venv-${benchEnv.backend}`, command: venvRun(benchEnv, ['true']) },
    ]),
    { key: 'node', command: onHost(first, process.execPath, ['-e', '0']) },
    { key: 'cli', command: onHost(first, process.execPath, [nodeCli, 'run', first.name, '--', 'true']) },
  ];
  const times = await timeInRounds(steps, runs, warmup, progress);
  const ms = (key: string) => median(times.get(key) ?? []);
  const raw = (backend: string) => ({ label: `raw script, ${backend}`, ms: ms(`raw-${backend}`) });
  const node = { label: '`node -e 0`', ms: ms('node') };
  const rows: Row[] = [];
  for (const { backend } of benchEnvs) {
    const ratio = ms(`venv-${backend}`) / raw(backend).ms;
    rows.push(
      {
        group: GROUP,
        label: `\`scripts/raw-enter.sh --backend ${backend} DIR true\` (by hand)`,
        ms: raw(backend).ms,
        runs,
        note: 'the baseline: no keeper, no locks, nothing to join',
      },
      {
        group: GROUP,
        label: `${VENV}, ${backend} env (bin/venv, shell fast path)`,
        ms: ms(`venv-${backend}`),
        runs,
        baseline: raw(backend),
        note: `target < ${TARGET_RATIO}x: ${ratio < TARGET_RATIO ? 'met' : 'MISSED'}`,
      },
    );
  }
  const firstVenv = { group: GROUP, ms: ms(`venv-${first.backend}`), runs };
  rows.push(
    { ...firstVenv, label: `${VENV}, ${first.backend} env (same runs)`, baseline: node },
    {
      group: GROUP,
      label: '`node -e 0`',
      ms: node.ms,
      runs,
      baseline: raw(first.backend),
      note: 'node start-up alone',
    },
    {
      group: GROUP,
      label: `\`node dist/src/cli.js run E -- true\`, ${first.backend} env`,
      ms: ms('cli'),
      runs,
      baseline: raw(first.backend),
      note: 'the CLI path bin/venv skips',
    },
  );
  return rows;
}

/** With the envs already entered by other sessions: `venv run` only joins one. */
export async function benchJoin(options: EntryOptions): Promise<Row[]> {
  const { benchEnvs, runs, warmup, progress } = options;
  const first = benchEnvs[0] as BenchEnv;
  const steps: Step[] = [
    rawStep(options, first),
    ...benchEnvs.map((benchEnv) => ({ key: `join-${benchEnv.backend}`, command: venvRun(benchEnv, ['true']) })),
  ];
  const times = await timeInRounds(steps, runs, warmup, progress);
  const raw = median(times.get(`raw-${first.backend}`) ?? []);
  return benchEnvs.map(({ backend }) => ({
    group: GROUP,
    label: `${VENV}, joining a ${backend} env another session holds open`,
    ms: median(times.get(`join-${backend}`) ?? []),
    runs,
    baseline: { label: `raw script, ${first.backend} (same rounds)`, ms: raw },
    note: 'no mount, no teardown',
  }));
}
