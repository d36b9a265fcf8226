// `npm run bench`: what entering an env and working in it cost, as medians from one run, each
// next to a baseline timed in the same rounds, for each backend. Prints markdown
// (docs/benchmarks.md holds a copy with the explanation). Options (and env variables):
//   --only GROUPS        (BENCH_GROUPS) entry,files,tree,copy,dpkg,read,archive; fs = all
//                        but entry and archive. Default: all.
//   --backends LIST      (BENCH_BACKENDS) overlay,fuse-overlayfs (the default: both)
//   --runs N             (BENCH_RUNS, 20) runs of the entering rows
//   --workload-runs N    (BENCH_WORKLOAD_RUNS, 3) runs of the file-system rows
//   --fuse-runs N        (BENCH_FUSE_RUNS, 1) runs of fuse-overlayfs in the slowest rows
//   --warmup N           (BENCH_WARMUP, 2) warm-up rounds (file-system rows: at most 1, none for the untars)
//   --max-files N        (BENCH_MAX_FILES, 64000) the largest one-directory count
//   --fuse-max-files N   (BENCH_FUSE_MAX_FILES, 16000) the same for fuse-overlayfs
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_NAMES, type BackendName, isBackendName } from '../src/backends/backend.js';
import { abortOnSignals, cleanUp, makeScratch } from './bench-cleanup.js';
import type { CompareOptions } from './bench-compare.js';
import { benchEntry, benchJoin } from './bench-entry.js';
import { type BenchEnv, createEnv, holdOpen, venvBin } from './bench-env.js';
import { type BenchContext, type Comparison, formatComparisons, formatRows, type Row } from './bench-format.js';
import { describeMachine } from './bench-machine.js';
import { BenchAborted } from './bench-measure.js';
import { benchFirstFind, benchWarmReads } from './bench-reads.js';
import { isRoot, rerunAsTestUser } from './bench-user.js';
import { benchCopy, benchDpkg, benchFlat, benchTree } from './bench-writes.js';

const GROUPS = ['entry', 'files', 'tree', 'copy', 'dpkg', 'read', 'archive'] as const;
type Group = (typeof GROUPS)[number];
const FS_GROUPS: readonly Group[] = ['files', 'tree', 'copy', 'dpkg', 'read'];
const FILE_COUNTS = [1000, 4000, 16_000, 64_000];

function count(flag: string | undefined, variable: string, fallback: number): number {
  const text = flag ?? process.env[variable];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`expected a whole number for ${variable}, got "${text}"`);
  return value;
}

function list(flag: string | undefined, variable: string): string[] | undefined {
  const text = flag ?? process.env[variable];
  return text ? text.split(',').map((item) => item.trim()) : undefined;
}

function groupsOf(names: string[] | undefined): Set<Group> {
  if (!names) return new Set(GROUPS);
  const groups = new Set<Group>();
  for (const name of names) {
    if (name === 'fs') FS_GROUPS.forEach((group) => groups.add(group));
    else if ((GROUPS as readonly string[]).includes(name)) groups.add(name as Group);
    else throw new Error(`expected groups among ${GROUPS.join(', ')} or fs, got "${name}"`);
  }
  return groups;
}

function options() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      backends: { type: 'string' },
      runs: { type: 'string' },
      'workload-runs': { type: 'string' },
      'fuse-runs': { type: 'string' },
      warmup: { type: 'string' },
      'max-files': { type: 'string' },
      'fuse-max-files': { type: 'string' },
    },
  });
  const backends = list(values.backends, 'BENCH_BACKENDS') ?? [...BACKEND_NAMES];
  const bad = backends.find((name) => !isBackendName(name));
  if (bad !== undefined) throw new Error(`expected backends among ${BACKEND_NAMES.join(', ')}, got "${bad}"`);
  const maxFiles = count(values['max-files'], 'BENCH_MAX_FILES', 64_000);
  return {
    groups: groupsOf(list(values.only, 'BENCH_GROUPS')),
    backends: backends as BackendName[],
    runs: Math.max(1, count(values.runs, 'BENCH_RUNS', 20)),
    workloadRuns: Math.max(1, count(values['workload-runs'], 'BENCH_WORKLOAD_RUNS', 3)),
    fuseRuns: Math.max(1, count(values['fuse-runs'], 'BENCH_FUSE_RUNS', 1)),
    warmup: count(values.warmup, 'BENCH_WARMUP', 2),
    fileCounts: FILE_COUNTS.filter((n) => n <= maxFiles),
    fuseMaxFiles: count(values['fuse-max-files'], 'BENCH_FUSE_MAX_FILES', 16_000),
  };
}

type Settings = ReturnType<typeof options>;

function progress(what: string) {
  return (done: number, total: number) => process.stderr.write(`\rbench: ${what} ${done}/${total}  \x1b[K`);
}

/** Rows from scripts/bench-archive.ts, written separately; skipped with a note when absent. */
async function extraRows(context: BenchContext): Promise<{ rows: Row[]; note?: string }> {
  const url = new URL('./bench-archive.js', import.meta.url);
  if (!existsSync(url)) return { rows: [], note: 'scripts/bench-archive.ts is absent: no archive rows.' };
  const module = (await import(url.href)) as { benchArchive?: (context: BenchContext) => Promise<Row[]> };
  if (typeof module.benchArchive !== 'function') throw new Error('scripts/bench-archive.ts exports no benchArchive()');
  process.stderr.write('\rbench: archive rows (scripts/bench-archive.ts)  \x1b[K');
  return { rows: await module.benchArchive(context) };
}

/** Keeps every env entered by another session while `work` runs. */
async function heldOpen<T>(benchEnvs: readonly BenchEnv[], work: () => Promise<T>): Promise<T> {
  const releases: (() => Promise<void>)[] = [];
  try {
    for (const benchEnv of benchEnvs) releases.push(await holdOpen(benchEnv));
    return await work();
  } finally {
    for (const release of releases) await release();
  }
}

async function bench(settings: Settings, scratch: string, home: string): Promise<string> {
  const { groups, runs, warmup } = settings;
  // Before the work: it reports the load average at the start.
  const machine = describeMachine(scratch);
  // node reads NODE_EXTRA_CA_CERTS at every start (~45 ms where set): not venv's cost.
  const env: NodeJS.ProcessEnv = { ...process.env, VENV_HOME: home };
  const stripped = env.NODE_EXTRA_CA_CERTS !== undefined;
  delete env.NODE_EXTRA_CA_CERTS;
  const benchEnvs: BenchEnv[] = settings.backends.map((backend) => ({
    name: `bench-${backend}`,
    backend,
    home,
    cwd: scratch,
    env,
  }));
  for (const benchEnv of benchEnvs) await createEnv(benchEnv);
  const rawDir = join(scratch, 'raw');
  const entry = { benchEnvs, rawDir, runs, warmup };
  const fsScratch = join(scratch, 'fs');
  await mkdir(fsScratch);
  // The untars start each round from nothing (the tarballs are in the page cache since
  // they were made): no warm-up round. The rest read the host's files through the env's
  // view: one warm-up round warms the held envs' caches (a cold cp -a was 4.8x here).
  const fs = (what: string, warm = true): CompareOptions => ({
    benchEnvs,
    scratch: fsScratch,
    runs: settings.workloadRuns,
    warmup: warm ? Math.min(warmup, 1) : 0,
    fuseRuns: settings.fuseRuns,
    progress: progress(what),
  });
  const rows: Row[] = [];
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  if (groups.has('entry')) rows.push(...(await benchEntry({ ...entry, progress: progress('entering') })));
  const firstFind = groups.has('read') ? await benchFirstFind(fs('find /usr, fresh envs')) : [];
  await heldOpen(benchEnvs, async () => {
    if (groups.has('entry')) rows.push(...(await benchJoin({ ...entry, progress: progress('joining') })));
    if (groups.has('files')) {
      const files = { counts: settings.fileCounts, fuseMax: settings.fuseMaxFiles };
      comparisons.push(...(await benchFlat(fs('files in one dir', false), files)));
    }
    if (groups.has('tree')) comparisons.push(...(await benchTree(fs('a real tree', false))));
    if (groups.has('copy')) comparisons.push(...(await benchCopy(fs('cp -a'))));
    if (groups.has('dpkg')) {
      const dpkg = await benchDpkg(fs('dpkg --unpack'));
      comparisons.push(...dpkg.rows);
      if (dpkg.skipped) notes.push(dpkg.skipped);
    }
    if (groups.has('read')) comparisons.push(...firstFind, ...(await benchWarmReads(fs('reads, envs held open'))));
  });
  let extra: { rows: Row[]; note?: string } = { rows: [] };
  if (groups.has('archive')) {
    process.env.VENV_HOME = home;
    extra = await extraRows({ home, scratch: join(scratch, 'extra'), venv: venvBin, runs, warmup });
  }
  process.stderr.write('\r\x1b[K');
  const summary = [
    `Medians of ${runs} runs (entering) and ${settings.workloadRuns} (file-system rows; ` +
      `${settings.fuseRuns} for fuse-overlayfs in the slowest, marked in "runs") after ${warmup} warm-up rounds ` +
      `(at most 1 for the file-system rows, none for the untars); each round runs every variant once, ` +
      'so load on the machine falls on all of them alike. File-system rows are timed inside the command: ' +
      'entering and leaving the env are not counted.',
    stripped ? 'NODE_EXTRA_CA_CERTS was unset for the timed commands (it slows every node start).' : '',
    `Load average at the end: ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}.`,
    ...notes,
    extra.note ?? '',
  ].filter(Boolean);
  const tables = [formatRows(rows), formatComparisons(comparisons, settings.backends), formatRows(extra.rows)];
  return `${machine}\n${tables.filter(Boolean).join('\n')}\n${summary.map((note) => `${note}\n`).join('')}`;
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
