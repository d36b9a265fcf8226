// Speed of `venv commit` and `venv restore` against the pipelines they replace, on the same
// data (files copied from the host's /usr into an env's upper dir):
//   commit   vs  tar -C UPPER -cf - . | zstd -T0
//   restore  vs  zstd -dc FILE | tar -C DIR -xf -
//            and the same as root in a user namespace (tar then sets owners and modes too)
// Caches are warm for both; each pair runs interleaved RUNS times and medians are kept.
//
//   node dist/scripts/bench-archive.js     (npm run bench runs it too, as an unprivileged user)
//   VENV_BENCH_ARCHIVE_MB=1024  how much data    VENV_BENCH_ARCHIVE_RUNS=3  how many runs
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseMapping } from '../src/host/host-checks.js';
import { usernsPrefix } from '../src/host/userns.js';
import { type BenchContext, formatRows, median, type Row } from './bench-format.js';

const VENV = fileURLToPath(new URL('../../bin/venv', import.meta.url));
const SOURCES = ['/usr/share', '/usr/include', '/usr/lib', '/usr/bin'];

const HAS_TIME = spawnSync('/usr/bin/time', ['true']).status === 0;

/**
 * Root in a user namespace with the mapping venv gives the env: tar there sets owners and
 * modes, which it does not do for a plain user (the baseline's way).
 */
const USERNS = usernsPrefix(chooseMapping()).join(' ');

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

/**
 * Rows for `npm run bench` (scripts/bench.ts). Uses context.home as VENV_HOME and
 * context.scratch for its files; at most VENV_BENCH_ARCHIVE_RUNS (default 3) runs, as a
 * run moves a gigabyte four times.
 */
export async function benchArchive(context: BenchContext): Promise<Row[]> {
  const megabytes = Number(process.env.VENV_BENCH_ARCHIVE_MB ?? 1024);
  const runs = Math.max(1, Math.min(context.runs, Number(process.env.VENV_BENCH_ARCHIVE_RUNS ?? 3)));
  const { home, scratch } = context;
  const env: NodeJS.ProcessEnv = { ...process.env, VENV_HOME: home };
  delete env.NODE_EXTRA_CA_CERTS; // slows every node start: not venv's cost
  mkdirSync(scratch, { recursive: true });
  try {
    if (spawnSync(context.venv, ['create', 'archive'], { env }).status !== 0) throw new Error('venv create failed');
    const upper = join(home, 'envs/archive/upper');
    const list = join(scratch, 'files');
    const files = pickFiles(megabytes * 1024 * 1024);
    writeFileSync(list, files.map((f) => `${f}\0`).join(''));
    sh(`tar -C / --null -T '${list}' --ignore-failed-read -cf - 2>/dev/null | tar -C '${upper}' -xf -`);
    const size = spawnSync('du', ['-sm', upper], { encoding: 'utf8' }).stdout.split('\t')[0];
    const data = `${size} MB in ${files.length} files`;
    const out = join(scratch, 'out.tar.zst');
    const times = {
      commit: [] as number[],
      commitBase: [] as number[],
      restore: [] as number[],
      restoreBase: [] as number[],
      restoreOwners: [] as number[],
    };
    let commitRss = 0;
    let restoreRss = 0;
    // Nothing is deleted until the end: on a filesystem mounted with `discard` (ext4 here),
    // writing right after deleting a gigabyte is several times slower, whoever writes.
    // `sync` between steps, so that one step's writeback does not land on the next.
    for (let run = 0; run < runs; run++) {
      sh('sync');
      times.commitBase.push(time(`tar -C '${upper}' -cf - . | zstd -T0 -q > '${scratch}/base-${run}.tar.zst'`).ms);
      sh('sync');
      const commit = time(`'${context.venv}' commit archive -o '${out}-${run}' >/dev/null`, env);
      times.commit.push(commit.ms);
      commitRss = Math.max(commitRss, commit.rssKb ?? 0);
      sh('sync');
      mkdirSync(join(scratch, `plain-${run}`));
      times.restoreBase.push(time(`zstd -dc '${out}-0' | tar -C '${scratch}/plain-${run}' -xf -`).ms);
      sh('sync');
      mkdirSync(join(scratch, `owners-${run}`));
      const owners = `zstd -dc '${out}-0' | tar -C '${scratch}/owners-${run}' -xf -`;
      times.restoreOwners.push(time(`${USERNS} sh -c "${owners}"`).ms);
      sh('sync');
      const restore = time(`'${context.venv}' restore '${out}-0' archive-copy-${run} >/dev/null`, env);
      times.restore.push(restore.ms);
      restoreRss = Math.max(restoreRss, restore.rssKb ?? 0);
    }
    const group = 'Archives: commit and restore';
    const note = (rss: number) => `${data}${rss ? `; peak RSS ${Math.round(rss / 1024)} MB` : ''}`;
    return [
      {
        group,
        label: '`venv commit` (zstd)',
        ms: median(times.commit),
        runs,
        baseline: { label: '`tar -C UPPER -cf - . | zstd -T0`', ms: median(times.commitBase) },
        note: note(commitRss),
      },
      {
        group,
        label: '`venv restore`',
        ms: median(times.restore),
        runs,
        baseline: { label: '`zstd -dc FILE | tar -C DIR -xf -`', ms: median(times.restoreBase) },
        note: note(restoreRss),
      },
      {
        group,
        label: '`venv restore` (same runs)',
        ms: median(times.restore),
        runs,
        baseline: { label: 'the same pipeline as root in a user namespace', ms: median(times.restoreOwners) },
        note: 'like for like: tar then sets every owner and mode, as venv must',
      },
    ];
  } finally {
    spawnSync(context.venv, ['rm', '--force', 'archive'], { env });
    for (let run = 0; run < runs; run++) spawnSync(context.venv, ['rm', '--force', `archive-copy-${run}`], { env });
    // Owned by the subordinate ids: only root in a user namespace can remove them.
    spawnSync('sh', ['-c', `${USERNS} rm -rf '${scratch}'/owners-*`]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const scratch = mkdtempSync(join(tmpdir(), 'venv-bench-archive-'));
  try {
    const context = { home: join(scratch, 'home'), scratch: join(scratch, 'work'), venv: VENV, runs: 3, warmup: 0 };
    process.stdout.write(formatRows(await benchArchive(context)));
  } finally {
    spawnSync('unshare', ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', '--', scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
}
