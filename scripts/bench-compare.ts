// The same piece of work on the host and in an env of each backend, in the same rounds,
// each timed from inside (see selfTimed): the tables show the env's time against the
// host's. Used by the file-system rows (scripts/bench-writes.ts, scripts/bench-reads.ts).
import { type BenchEnv, onHost, selfTimed, venvRun } from './bench-env.js';
import { type Comparison, median } from './bench-format.js';
import { type Step, timeInRounds } from './bench-measure.js';

export interface CompareOptions {
  /** One env per backend, in column order. */
  benchEnvs: readonly BenchEnv[];
  /** A directory for the host side's files. */
  scratch: string;
  runs: number;
  warmup: number;
  /** Timed runs of the fuse-overlayfs variant of the slow rows (it is 10-70x the host there). */
  fuseRuns: number;
  progress: (done: number, total: number) => void;
}

/**
 * One piece of work: a shell script run with other arguments on the host and in the env.
 * A work that only resets state for the next round is timed like the others, not shown.
 */
export interface Work {
  key: string;
  script: string;
  hostArgs?: readonly string[];
  envArgs?: readonly string[];
  /** Sides ('host' or a backend) this work does not run on (too slow there); their cells stay empty. */
  skip?: readonly string[];
  /** The fuse-overlayfs variant gets CompareOptions.fuseRuns timed runs and no warm-up. */
  slow?: boolean;
}

/** The backend whose variant of a slow row runs fewer times. */
const SLOW_BACKEND = 'fuse-overlayfs';

function stepsOf(options: CompareOptions, work: Work, host: boolean): Step[] {
  const first = options.benchEnvs[0] as BenchEnv;
  if (host) {
    if (work.skip?.includes('host')) return [];
    return [
      {
        key: `host-${work.key}`,
        command: onHost(first, 'sh', selfTimed(work.script, work.hostArgs).slice(1)),
        selfTimed: true,
      },
    ];
  }
  return options.benchEnvs
    .filter(({ backend }) => !work.skip?.includes(backend))
    .map((benchEnv) => ({
      key: `${benchEnv.backend}-${work.key}`,
      command: venvRun(benchEnv, selfTimed(work.script, work.envArgs)),
      selfTimed: true,
      runs: work.slow && benchEnv.backend === SLOW_BACKEND ? options.fuseRuns : undefined,
    }));
}

/**
 * Runs each phase's works in rounds: within a phase every work runs on the host, then in
 * each env; phases follow each other (an untar phase, then an rm phase). Returns the
 * medians by `SIDE-KEY` (SIDE: host or a backend) and the number of timed runs of each.
 */
export async function compare(
  options: CompareOptions,
  phases: readonly (readonly Work[])[],
): Promise<{ ms: (side: string, key: string) => number | undefined; runs: (side: string, key: string) => number }> {
  const steps = phases.flatMap((works) =>
    works.flatMap((work) => [...stepsOf(options, work, true), ...stepsOf(options, work, false)]),
  );
  const times = await timeInRounds(steps, options.runs, options.warmup, options.progress);
  return {
    ms: (side, key) => {
      const found = times.get(`${side}-${key}`);
      return found && found.length > 0 ? median(found) : undefined;
    },
    runs: (side, key) => times.get(`${side}-${key}`)?.length ?? 0,
  };
}

/** A table row from compare()'s results; undefined if the host side did not run. */
export function comparison(
  results: Awaited<ReturnType<typeof compare>>,
  backends: readonly string[],
  row: { group: string; label: string; key: string; note?: string },
): Comparison {
  const envs: Record<string, number> = {};
  for (const backend of backends) {
    const ms = results.ms(backend, row.key);
    if (ms !== undefined) envs[backend] = ms;
  }
  const counts = ['host', ...backends].map((side) => results.runs(side, row.key)).filter((n) => n > 0);
  const runs = new Set(counts).size === 1 ? String(counts[0]) : counts.join(' / ');
  return {
    group: row.group,
    label: row.label,
    host: results.ms('host', row.key) ?? Number.NaN,
    envs,
    runs,
    note: row.note,
  };
}

/** "target ≤ 1.5x: met" for the overlay backend's cell of a row, or '' without one. */
export function targetNote(row: Comparison, limit: number, backend = 'overlay'): string {
  const ms = row.envs[backend];
  if (ms === undefined) return '';
  return `${backend} target ≤ ${limit}x: ${ms / row.host <= limit ? 'met' : 'MISSED'}`;
}
