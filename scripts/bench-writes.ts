// Writes in the env against the host: untar and rm -rf of many empty files in one
// directory (1,000 to 64,000: the per-file cost must not grow with the directory), of a
// real tree, a `cp -a` of a Python library and a `dpkg --unpack` of real packages. The env
// side writes into the overlay (/opt); the host side into the scratch dir.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CompareOptions, comparison, compare, targetNote, type Work } from './bench-compare.js';
import type { Comparison } from './bench-format.js';
import { DEB_PACKAGES, debEntries, fetchDebs, makeFlatTarball, makeTreeTarball } from './bench-fixtures.js';

/** The targets for the overlay backend. */
export const WRITE_TARGET = 1.5;
export const SCALING_TARGET = 80;

const UNTAR = 'mkdir -p "$2" && tar -x --no-same-owner -f "$1" -C "$2"';
const RM = 'rm -rf "$1"';
/** In the overlay: /tmp would be the host's own (shared) directory. */
const ENV_TARGET = '/opt/venv-bench';
const fmt = new Intl.NumberFormat('en');

function backends(options: CompareOptions): string[] {
  return options.benchEnvs.map(({ backend }) => backend);
}

function withTarget(row: Comparison, extra = ''): Comparison {
  return { ...row, note: [targetNote(row, WRITE_TARGET), extra, row.note].filter(Boolean).join('; ') };
}

export interface FileCounts {
  counts: readonly number[];
  /** The largest count fuse-overlayfs runs (the others are minutes each there). */
  fuseMax: number;
}

/** untar and rm -rf of N empty files in one directory, for each N. */
export async function benchFlat(options: CompareOptions, files: FileCounts): Promise<Comparison[]> {
  const group = 'Many files in one directory: untar and `rm -rf`, env held open';
  const untars: Work[] = [];
  const rms: Work[] = [];
  for (const count of files.counts) {
    const tarball = await makeFlatTarball(options.scratch, count);
    const host = join(options.scratch, `host-flat-${count}`);
    const skip = count > files.fuseMax ? ['fuse-overlayfs'] : [];
    const slow = count >= 16_000;
    untars.push({
      key: `untar-${count}`,
      script: UNTAR,
      hostArgs: [tarball, host],
      envArgs: [tarball, ENV_TARGET],
      skip,
      slow,
    });
    rms.push({ key: `rm-${count}`, script: RM, hostArgs: [host], envArgs: [ENV_TARGET], skip, slow });
  }
  // Each count untars and removes in turn: one directory in the env at a time.
  const phases = files.counts.flatMap((_, i) => [[untars[i] as Work], [rms[i] as Work]]);
  const results = await compare(options, phases);
  const sides = backends(options);
  const rows: Comparison[] = [];
  const smallest = files.counts[0] as number;
  const largest = files.counts[files.counts.length - 1] as number;
  for (const [kind, label] of [
    ['untar', 'untar of N empty files into one dir'],
    ['rm', '`rm -rf` of them'],
  ] as const) {
    for (const count of files.counts) {
      const row = comparison(results, sides, {
        group,
        key: `${kind}-${count}`,
        label: `${label}, N = ${fmt.format(count)}`,
      });
      let scaling = '';
      if (count === largest && largest > smallest) {
        // The per-file cost: N files against the smallest N (linear would be largest/smallest).
        const parts = ['host', ...sides].flatMap((side) => {
          const big = results.ms(side, `${kind}-${largest}`);
          const small = results.ms(side, `${kind}-${smallest}`);
          return big === undefined || small === undefined ? [] : [`${side} ${(big / small).toFixed(0)}x`];
        });
        const overlay = results.ms('overlay', `${kind}-${largest}`);
        const base = results.ms('overlay', `${kind}-${smallest}`);
        const met =
          overlay !== undefined && base !== undefined ? (overlay / base <= SCALING_TARGET ? 'met' : 'MISSED') : '';
        scaling =
          `${fmt.format(largest)} against ${fmt.format(smallest)}: ${parts.join(', ')}` +
          (met ? ` (overlay target ≤ ${SCALING_TARGET}x: ${met})` : '');
      }
      const skipped =
        count > files.fuseMax && sides.includes('fuse-overlayfs')
          ? 'fuse-overlayfs not run (BENCH_FUSE_MAX_FILES)'
          : '';
      rows.push(withTarget(row, [scaling, skipped].filter(Boolean).join('; ')));
    }
  }
  return rows;
}

/** untar and rm -rf of a real tree (the host's locales and man pages). */
export async function benchTree(options: CompareOptions): Promise<Comparison[]> {
  const group = 'A real tree: untar and `rm -rf`, env held open';
  const tree = makeTreeTarball(options.scratch);
  const host = join(options.scratch, 'host-tree');
  const untar: Work = {
    key: 'untar',
    script: UNTAR,
    hostArgs: [tree.path, host],
    envArgs: [tree.path, ENV_TARGET],
    slow: true,
  };
  const rm: Work = { key: 'rm', script: RM, hostArgs: [host], envArgs: [ENV_TARGET], slow: true };
  const results = await compare(options, [[untar], [rm]]);
  const what = `${fmt.format(tree.entries)} entries of ${tree.sources.join(' and ')}`;
  return [
    withTarget(comparison(results, backends(options), { group, key: 'untar', label: `untar of ${what}`, note: '' })),
    withTarget(comparison(results, backends(options), { group, key: 'rm', label: '`rm -rf` of them' })),
  ];
}

/** cp -a of the host's Python library into the env, and its removal. */
export async function benchCopy(options: CompareOptions): Promise<Comparison[]> {
  const group = 'Copying and installing, env held open';
  const source = ['/usr/lib/python3', '/usr/lib/python3.11', '/usr/lib/python3.12'].find((dir) => existsSync(dir));
  if (!source) return [];
  const host = join(options.scratch, 'host-copy');
  const copy: Work = {
    key: 'cp',
    script: 'cp -a "$1" "$2"',
    hostArgs: [source, host],
    envArgs: [source, `${ENV_TARGET}-cp`],
  };
  const rm: Work = { key: 'rm', script: RM, hostArgs: [host], envArgs: [`${ENV_TARGET}-cp`] };
  const results = await compare(options, [[copy], [rm]]);
  const sides = backends(options);
  return [
    withTarget(comparison(results, sides, { group, key: 'cp', label: `\`cp -a ${source}\` (to /opt in the env)` })),
    withTarget(comparison(results, sides, { group, key: 'rm', label: '`rm -rf` of the copy' })),
  ];
}

/**
 * `dpkg --unpack` of real packages in the env (as root there, its real database) against
 * `dpkg --unpack --force-not-root --root=DIR` on the host, DIR holding a copy of the host's
 * dpkg database. Both with --no-triggers (man-db's trigger would need a chroot on the host).
 */
export async function benchDpkg(options: CompareOptions): Promise<{ rows: Comparison[]; skipped?: string }> {
  const group = 'Copying and installing, env held open';
  const fetched = fetchDebs(join(options.scratch, 'debs'));
  if ('skipped' in fetched) return { rows: [], skipped: `dpkg row skipped: ${fetched.skipped}` };
  const { debs } = fetched;
  const root = join(options.scratch, 'host-dpkg-root');
  const common = '--no-triggers --log=/dev/null';
  const reset: Work = {
    key: 'reset',
    // The host: a fresh root with a copy of the dpkg database (lock files are unreadable),
    // synced: dpkg's fsyncs would otherwise write the whole fresh copy out on the clock.
    script:
      'rm -rf "$1" && mkdir -p "$1/var/lib" && { tar -C /var/lib --ignore-failed-read -cf - dpkg 2>/dev/null || :; } | tar -C "$1/var/lib" -xf - && sync',
    hostArgs: [root],
    skip: backends(options),
  };
  const unpack: Work = {
    key: 'unpack',
    // dpkg wants ldconfig and start-stop-daemon on PATH, which a user's PATH lacks.
    script: `PATH=$PATH:/usr/sbin:/sbin; root=$1; shift; if [ "$root" = - ]; then dpkg --unpack ${common} "$@"; else dpkg --unpack ${common} --force-not-root --root="$root" "$@"; fi >/dev/null`,
    hostArgs: [root, ...debs],
    envArgs: ['-', ...debs],
    slow: true,
  };
  // The env: undo the round's unpack, synced like the host's reset.
  const purge: Work = {
    key: 'purge',
    script: `dpkg --purge ${common} ${DEB_PACKAGES.join(' ')} >/dev/null`,
    skip: ['host'],
  };
  const results = await compare(options, [[reset], [unpack], [purge]]);
  const note = `${debs.length} .debs, ${fmt.format(debEntries(debs))} entries (${DEB_PACKAGES.join(', ')}); host: \`dpkg --unpack --force-not-root --root=DIR\`, DIR holding a copy of /var/lib/dpkg; both \`${common}\``;
  return {
    rows: [
      withTarget(
        comparison(results, backends(options), {
          group,
          key: 'unpack',
          label: '`dpkg --unpack` of real packages',
          note,
        }),
      ),
    ],
  };
}
