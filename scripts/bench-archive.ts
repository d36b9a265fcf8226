// Speed of `venv commit` and `venv restore` against the pipelines they replace, on the same
// data (files copied from the host's /usr into an env's upper dir):
//   commit   vs  tar -C UPPER -cf - . | zstd -T0
//   restore  vs  zstd -dc FILE | tar -C DIR -xf -
// Caches are warm for both; each pair runs interleaved RUNS times and medians are kept.
//
//   node dist/scripts/bench-archive.js          (or import { benchArchive })
//   VENV_BENCH_ARCHIVE_MB=1024  how much data    VENV_BENCH_ARCHIVE_RUNS=3  how many runs
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Row {
  name: string;
  /** Median wall time of venv's command. */
  ms: number;
  /** Median wall time of the plain pipeline on the same data. */
  baselineMs: number;
  ratio: number;
  /** Peak resident memory of venv's command (its biggest process), when measurable. */
  maxRssKb?: number;
  note?: string;
}

const VENV = fileURLToPath(new URL('../../bin/venv', import.meta.url));
const SOURCES = ['/usr/share', '/usr/include', '/usr/lib', '/usr/bin'];

const HAS_TIME = spawnSync('/usr/bin/time', ['true']).status === 0;

/** Runs a shell script; the peak RSS of its biggest process when /usr/bin/time exists. */
function sh(script: string, env: NodeJS.ProcessEnv = process.env): { rssKb?: number } {
  const argv = HAS_TIME ? ['/usr/bin/time', '-f', 'venv-bench-rss %M', 'sh', '-c', script] : ['sh', '-c', script];
  const result = spawnSync(argv[0] as string, argv.slice(1), { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`failed: ${script}\n${result.stderr}`);
  const rss = /venv-bench-rss (\d+)/.exec(result.stderr)?.[1];
  return { rssKb: rss ? Number(rss) : undefined };
}

function time(script: string, env?: NodeJS.ProcessEnv): { ms: number; rssKb?: number } {
  const started = process.hrtime.bigint();
  const result = sh(script, env);
  return { ...result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** Host files up to `bytes`, as paths relative to / (readable ones only). */
function pickFiles(bytes: number): string[] {
  const picked: string[] = [];
  let total = 0;
  const pending = [...SOURCES];
  while (pending.length > 0 && total < bytes) {
    const dir = pending.shift() as string;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const stat = lstatSync(path);
        if (stat.isDirectory()) pending.push(path);
        // Files up to 512 KiB: "1 GB in many files", as envs made by package managers are.
        else if (stat.isFile() && stat.size <= 512 * 1024 && total < bytes) {
          picked.push(path.slice(1));
          total += stat.size;
        }
      } catch {
        // vanished or unreadable
      }
    }
  }
  return picked;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function benchArchive(): Promise<Row[]> {
  const megabytes = Number(process.env.VENV_BENCH_ARCHIVE_MB ?? 1024);
  const runs = Number(process.env.VENV_BENCH_ARCHIVE_RUNS ?? 3);
  const home = mkdtempSync(join(tmpdir(), 'venv-bench-archive-'));
  const env = { ...process.env, VENV_HOME: home };
  try {
    if (spawnSync(VENV, ['create', 'bench'], { env }).status !== 0) throw new Error('venv create failed');
    const upper = join(home, 'envs/bench/upper');
    const list = join(home, 'files');
    const files = pickFiles(megabytes * 1024 * 1024);
    writeFileSync(list, files.map((f) => `${f}\0`).join(''));
    sh(`tar -C / --null -T '${list}' --ignore-failed-read -cf - 2>/dev/null | tar -C '${upper}' -xf -`);
    const size = spawnSync('du', ['-sm', upper], { encoding: 'utf8' }).stdout.split('\t')[0];
    const data = `${size} MB in ${files.length} files`;
    const out = join(home, 'out.tar.zst');
    const commit: number[] = [];
    const commitBase: number[] = [];
    const restore: number[] = [];
    const restoreBase: number[] = [];
    let commitRss = 0;
    let restoreRss = 0;
    for (let run = 0; run < runs; run++) {
      commitBase.push(time(`tar -C '${upper}' -cf - . | zstd -T0 -q > '${home}/base.tar.zst'`).ms);
      const c = time(`'${VENV}' commit bench -o '${out}' >/dev/null`, env);
      commit.push(c.ms);
      commitRss = Math.max(commitRss, c.rssKb ?? 0);
      mkdirSync(join(home, 'plain'));
      restoreBase.push(time(`zstd -dc '${out}' | tar -C '${home}/plain' -xf -`).ms);
      rmSync(join(home, 'plain'), { recursive: true, force: true });
      const r = time(`'${VENV}' restore '${out}' copy >/dev/null`, env);
      restore.push(r.ms);
      restoreRss = Math.max(restoreRss, r.rssKb ?? 0);
      spawnSync(VENV, ['rm', 'copy'], { env });
    }
    const row = (name: string, mine: number[], base: number[], rss: number): Row => ({
      name,
      ms: Math.round(median(mine)),
      baselineMs: Math.round(median(base)),
      ratio: Math.round((median(mine) / median(base)) * 100) / 100,
      maxRssKb: rss || undefined,
      note: data,
    });
    return [
      row('venv commit (zstd) vs tar | zstd -T0', commit, commitBase, commitRss),
      row('venv restore vs zstd -dc | tar -x', restore, restoreBase, restoreRss),
    ];
  } finally {
    spawnSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', '--', home]);
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchArchive();
  for (const r of rows) {
    process.stdout.write(
      `${r.name}: ${r.ms} ms, baseline ${r.baselineMs} ms, ratio ${r.ratio}` +
        `${r.maxRssKb ? `, max RSS ${Math.round(r.maxRssKb / 1024)} MB` : ''} (${r.note})\n`,
    );
  }
}
