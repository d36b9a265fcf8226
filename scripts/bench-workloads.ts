// Metadata-heavy work inside an env next to the same work on the host: a walk of /usr, an
// untar of a few thousand small files into the overlay (/opt, not the shared /tmp), and an
// rm -rf of them. This is where fuse-overlayfs costs: every lookup is a round trip to it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BenchEnv, onHost, venvRun } from './bench-env.js';
import { median, type Row } from './bench-format.js';
import { type Step, timeCommand, timeInRounds } from './bench-measure.js';

const GROUP = 'Metadata-heavy work: in the env against the host';
const FIND = 'find /usr -xdev | wc -l';
const UNTAR = 'mkdir -p "$2" && tar -x --no-same-owner -f "$1" -C "$2"';
/** In the overlay: /tmp would be the host's own (shared) directory. */
const ENV_TARGET = '/opt/venv-bench';

export interface WorkloadOptions {
  benchEnv: BenchEnv;
  scratch: string;
  /** The tarball from makeFixture. */
  tarball: string;
  files: number;
  runs: number;
  warmup: number;
  progress: (done: number, total: number) => void;
}

/** A tarball of `files` small files, 50 to a directory. */
export async function makeFixture(scratch: string, files: number): Promise<string> {
  const tree = join(scratch, 'fixture');
  for (let i = 0; i < files; i++) {
    const dir = join(tree, `d${String(Math.floor(i / 50)).padStart(3, '0')}`);
    if (i % 50 === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.txt`), `file ${i}\n`.repeat(20));
  }
  const tarball = join(scratch, 'files.tar');
  await timeCommand({ file: 'tar', args: ['-cf', tarball, '-C', tree, '.'] });
  return tarball;
}

/** Entries find sees on the host and in the env; they differ by what the user cannot read. */
export async function countEntries(benchEnv: BenchEnv): Promise<{ host: number; env: number }> {
  const host = await timeCommand(onHost(benchEnv, 'sh', ['-c', FIND]));
  const env = await timeCommand(venvRun(benchEnv, ['sh', '-c', FIND]));
  return { host: Number(host.stdout.trim()), env: Number(env.stdout.trim()) };
}

/**
 * `held`: another session keeps the env entered, so each command joins a mounted env with
 * warm kernel caches. Otherwise each command starts and ends the env (a fresh FUSE mount).
 */
export async function benchWorkloads(
  options: WorkloadOptions,
  held: boolean,
  counts: { host: number; env: number },
): Promise<Row[]> {
  const { benchEnv, tarball, runs, warmup, progress } = options;
  const hostTarget = join(options.scratch, 'host-untar');
  const steps: Step[] = [
    { key: 'host-find', command: onHost(benchEnv, 'sh', ['-c', FIND]) },
    { key: 'env-find', command: venvRun(benchEnv, ['sh', '-c', FIND]) },
    { key: 'host-untar', command: onHost(benchEnv, 'sh', ['-c', UNTAR, 'sh', tarball, hostTarget]) },
    { key: 'env-untar', command: venvRun(benchEnv, ['sh', '-c', UNTAR, 'sh', tarball, ENV_TARGET]) },
    { key: 'host-rm', command: onHost(benchEnv, 'rm', ['-rf', hostTarget]) },
    { key: 'env-rm', command: venvRun(benchEnv, ['rm', '-rf', ENV_TARGET]) },
  ];
  const times = await timeInRounds(steps, runs, warmup, progress);
  const ms = (key: string) => median(times.get(key) ?? []);
  const how = held ? 'env held open' : 'fresh entry per run';
  const fmt = new Intl.NumberFormat('en');
  const works = [
    ['find', `\`${FIND}\``, `host ${fmt.format(counts.host)} entries, env ${fmt.format(counts.env)}`],
    ['untar', `untar ${fmt.format(options.files)} files into ${ENV_TARGET}`, 'host: into a dir beside VENV_HOME'],
    ['rm', '`rm -rf` of them', ''],
  ] as const;
  return works.map(([key, label, note]) => ({
    group: GROUP,
    label: `${label}, ${how}`,
    ms: ms(`env-${key}`),
    runs,
    baseline: { label: 'host', ms: ms(`host-${key}`) },
    note: held ? note : `includes entering and a cold FUSE mount${note ? `; ${note}` : ''}`,
  }));
}
