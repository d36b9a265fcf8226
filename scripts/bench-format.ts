// The shape of a benchmark result and how `npm run bench` prints it. Rows come from
// scripts/bench.ts and, when present, scripts/bench-archive.ts (see BenchContext).

/** One timed thing, optionally compared with another thing timed in the same invocation. */
export interface Row {
  /** Heading of the table the row goes in, e.g. "Entering an env". */
  group: string;
  /** What was timed, as the reader should read it (markdown allowed). */
  label: string;
  /** Median wall time in milliseconds. */
  ms: number;
  /** How many timed runs the median is over (warm-up runs not counted). */
  runs: number;
  /** The row this one is measured against: the table shows ms / baseline.ms. */
  baseline?: { label: string; ms: number };
  /** A short remark, e.g. the number of entries a find saw. */
  note?: string;
}

/** What bench.ts hands to extra row providers such as scripts/bench-archive.ts. */
export interface BenchContext {
  /** The temporary VENV_HOME (also set as process.env.VENV_HOME); removed afterwards. */
  home: string;
  /** A scratch directory for the provider's own files; removed afterwards. */
  scratch: string;
  /** Absolute path of bin/venv. */
  venv: string;
  runs: number;
  warmup: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

export function formatRatio(ms: number, baseline: number): string {
  const ratio = ms / baseline;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}x`;
}

/** A "|" would end the table cell, even inside backquotes. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Markdown tables, one per group, in the order the groups first appear. */
export function formatRows(rows: readonly Row[]): string {
  const groups = [...new Set(rows.map((row) => row.group))];
  return groups
    .map((group) => {
      const lines = [
        `### ${group}`,
        '',
        '| what | median | compared with | its median | ratio | runs | note |',
        '| --- | ---: | --- | ---: | ---: | ---: | --- |',
      ];
      for (const row of rows.filter((r) => r.group === group)) {
        const base = row.baseline;
        lines.push(
          `| ${[
            row.label,
            formatMs(row.ms),
            base?.label ?? '',
            base ? formatMs(base.ms) : '',
            base ? formatRatio(row.ms, base.ms) : '',
            String(row.runs),
            row.note ?? '',
          ]
            .map(escapeCell)
            .join(' | ')} |`,
        );
      }
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/** One piece of work timed on the host and in each env, in the same rounds. */
export interface Comparison {
  group: string;
  label: string;
  /** Median on the host, in milliseconds: the baseline of every ratio in the row. */
  host: number;
  /** Median in the env of each backend (columns in `backends` order); absent: not run. */
  envs: Partial<Record<string, number>>;
  /** Timed runs: one number, or one per column where they differ ("5 / 5 / 2"). */
  runs: string;
  note?: string;
}

/**
 * Markdown tables of comparisons, one per group: the host's median, then each backend's
 * median and its ratio to the host.
 */
export function formatComparisons(rows: readonly Comparison[], backends: readonly string[]): string {
  const groups = [...new Set(rows.map((row) => row.group))];
  return groups
    .map((group) => {
      const heads = backends.flatMap((backend) => [backend, 'ratio']);
      const lines = [
        `### ${group}`,
        '',
        `| what | host | ${heads.join(' | ')} | runs | note |`,
        `| --- | ---: | ${heads.map(() => '---:').join(' | ')} | ---: | --- |`,
      ];
      for (const row of rows.filter((r) => r.group === group)) {
        const cells = backends.flatMap((backend) => {
          const ms = row.envs[backend];
          return ms === undefined ? ['', ''] : [formatMs(ms), formatRatio(ms, row.host)];
        });
        lines.push(
          `| ${[row.label, formatMs(row.host), ...cells, row.runs, row.note ?? ''].map(escapeCell).join(' | ')} |`,
        );
      }
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}
