// Reads in the env against the host: `find /usr -type f` on the first command of a fresh
// env (a cold FUSE mount under the overlay) and in an env held open, and reading every
// header under /usr/include with warm caches. Timed from inside: entering is not counted.
import { timeCommand } from './bench-measure.js';
import { type BenchEnv, onHost, venvRun } from './bench-env.js';
import { type CompareOptions, comparison, compare, targetNote, type Work } from './bench-compare.js';
import type { Comparison } from './bench-format.js';

/** The targets for the overlay backend. */
export const READ_TARGET = 1.5;
export const FIRST_FIND_TARGET = 3;

const FIND = 'find /usr -type f 2>/dev/null | wc -l >/dev/null';
const CAT = 'find /usr/include -type f -exec cat {} + >/dev/null';
const GROUP = 'Reading: a walk of /usr and every header';
const fmt = new Intl.NumberFormat('en');

/** Files find sees under /usr on the host and in each env (what the user cannot read differs). */
async function counts(options: CompareOptions): Promise<string> {
  const count = 'find /usr -type f 2>/dev/null | wc -l';
  const first = options.benchEnvs[0] as BenchEnv;
  const host = await timeCommand(onHost(first, 'sh', ['-c', count]));
  const envs = [];
  for (const benchEnv of options.benchEnvs) {
    const env = await timeCommand(venvRun(benchEnv, ['sh', '-c', count]));
    envs.push(`${benchEnv.backend} ${fmt.format(Number(env.stdout.trim()))}`);
  }
  return `files: host ${fmt.format(Number(host.stdout.trim()))}, ${envs.join(', ')}`;
}

/** Each env command is the first of a fresh `venv run`: nothing may hold the envs open. */
export async function benchFirstFind(options: CompareOptions): Promise<Comparison[]> {
  const note = await counts(options);
  const results = await compare(options, [[{ key: 'find', script: FIND }]]);
  const row = comparison(
    results,
    options.benchEnvs.map(({ backend }) => backend),
    {
      group: GROUP,
      key: 'find',
      label: '`find /usr -type f`, first command of a fresh env',
    },
  );
  return [
    { ...row, note: [targetNote(row, FIRST_FIND_TARGET), 'a cold FUSE mount; entering not counted', note].join('; ') },
  ];
}

/** With the envs held open by other sessions: warm kernel caches of their mounts. */
export async function benchWarmReads(options: CompareOptions): Promise<Comparison[]> {
  const works: Work[] = [
    { key: 'find', script: FIND },
    { key: 'cat', script: CAT },
  ];
  const results = await compare(options, [works]);
  const sides = options.benchEnvs.map(({ backend }) => backend);
  const labels = {
    find: '`find /usr -type f`, env held open',
    cat: '`find /usr/include -type f -exec cat {} +`, env held open',
  };
  return works.map((work) => {
    const row = comparison(results, sides, {
      group: GROUP,
      key: work.key,
      label: labels[work.key as keyof typeof labels],
    });
    return { ...row, note: [targetNote(row, READ_TARGET), 'warm caches'].join('; ') };
  });
}
