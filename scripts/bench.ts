// `npm run bench`: what entering an env and working in it cost, as medians from one run, each
// next to a baseline timed in the same rounds. Prints markdown (docs/benchmarks.md holds a
// copy with the explanation). Options: --runs N (BENCH_RUNS, default 20), --workload-runs N
// (BENCH_WORKLOAD_RUNS, default: runs), --warmup N (BENCH_WARMUP, 2), --files N (BENCH_FILES, 3000).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { abortOnSignals, cleanUp, makeScratch } from './bench-cleanup.js';
import { benchEntry, benchJoin } from './bench-entry.js';
import { type BenchEnv, createEnv, holdOpen, venvBin } from './bench-env.js';
import { type BenchContext, formatRows, type Row } from './bench-format.js';
import { describeMachine } from './bench-machine.js';
import { BenchAborted } from './bench-measure.js';
import { isRoot, rerunAsTestUser } from './bench-user.js';
import { benchWorkloads, countEntries, makeFixture } from './bench-workloads.js';

function count(flag: string | undefined, variable: string, fallback: number): number {
  const text = flag ?? process.env[variable];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`expected a whole number for ${variable}, got "${text}"`);
  return value;
}

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      'workload-runs': { type: 'string' },
      warmup: { type: 'string' },
      files: { type: 'string' },
    },
  });
  const runs = Math.max(1, count(values.runs, 'BENCH_RUNS', 20));
  return {
    runs,
    workloadRuns: Math.max(1, count(values['workload-runs'], 'BENCH_WORKLOAD_RUNS', runs)),
    warmup: count(values.warmup, 'BENCH_WARMUP', 2),
    files: Math.max(1, count(values.files, 'BENCH_FILES', 3000)),
  };
}

function progress(what: string) {
  return (done: number, total: number) => process.stderr.write(`\rbench: ${what} ${done}/${total}  `);
}

/** Rows from scripts/bench-archive.ts, written separately; skipped with a note when absent. */
async function extraRows(context: BenchContext): Promise<{ rows: Row[]; note?: string }> {
  const url = new URL('./bench-archive.js', import.meta.url);
  if (!existsSync(url)) return { rows: [], note: 'scripts/bench-archive.ts is absent: no archive rows.' };
  const module = (await import(url.href)) as { benchArchive?: (context: BenchContext) => Promise<Row[]> };
  if (typeof module.benchArchive !== 'function') throw new Error('scripts/bench-archive.ts exports no benchArchive()');
  process.stderr.write('\rbench: archive rows (scripts/bench-archive.ts)  ');
  return { rows: await module.benchArchive(context) };
}

async function bench(settings: ReturnType<typeof options>, scratch: string, home: string): Promise<string> {
  const { runs, workloadRuns, warmup, files } = settings;
  // node reads NODE_EXTRA_CA_CERTS at every start (~45 ms where set): not venv's cost.
  const env: NodeJS.ProcessEnv = { ...process.env, VENV_HOME: home };
  const stripped = env.NODE_EXTRA_CA_CERTS !== undefined;
  delete env.NODE_EXTRA_CA_CERTS;
  const benchEnv: BenchEnv = { name: 'bench', home, cwd: scratch, env };
  await createEnv(benchEnv);
  const base = { benchEnv, runs, warmup };
  const rows = await benchEntry({ ...base, rawDir: join(scratch, 'raw'), progress: progress('entering') });
  const tarball = await makeFixture(scratch, files);
  const counts = await countEntries(benchEnv);
  const work = { ...base, scratch, tarball, files, runs: workloadRuns };
  const fresh = await benchWorkloads({ ...work, progress: progress('workloads, fresh entries') }, false, counts);
  const release = await holdOpen(benchEnv);
  try {
    rows.push(...(await benchJoin({ ...base, rawDir: join(scratch, 'raw'), progress: progress('joining') })));
    rows.push(...(await benchWorkloads({ ...work, progress: progress('workloads, env held open') }, true, counts)));
  } finally {
    await release();
  }
  rows.push(...fresh);
  process.env.VENV_HOME = home;
  const extra = await extraRows({ home, scratch: join(scratch, 'extra'), venv: venvBin, runs, warmup });
  rows.push(...extra.rows);
  process.stderr.write('\r\x1b[K');
  const notes = [
    `Medians of ${runs} runs (${workloadRuns} for the workloads) after ${warmup} warm-up rounds; ` +
      'each round runs every variant once, so load on the machine falls on all of them alike.',
    stripped ? 'NODE_EXTRA_CA_CERTS was unset for the timed commands (it slows every node start).' : '',
    extra.note ?? '',
  ].filter(Boolean);
  return `${describeMachine(scratch)}\n${formatRows(rows)}\n${notes.map((note) => `${note}\n`).join('')}`;
}

async function main(): Promise<void> {
  const settings = options();
  if (isRoot()) {
    process.exitCode = await rerunAsTestUser(process.argv.slice(1));
    return;
  }
  const scratch = await makeScratch();
  const home = join(scratch, 'venv-home');
  abortOnSignals();
  try {
    process.stdout.write(await bench(settings, scratch, home));
  } catch (error) {
    if (!(error instanceof BenchAborted)) {
      process.stderr.write(`\nbench: failed: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  } finally {
    const leaked = await cleanUp(scratch, home);
    if (leaked.length > 0) {
      process.stderr.write(`bench: processes were left behind and have been killed:\n  ${leaked.join('\n  ')}\n`);
      process.exitCode ||= 1;
    }
  }
}

await main();
