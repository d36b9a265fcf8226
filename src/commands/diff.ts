// `venv diff NAME`: what the env changed on top of the host, path by path (see diff-worker.ts).
import type { Change } from '../archive/diff-worker.js';
import { run } from '../host/exec.js';
import { baseTree } from '../store/bases.js';
import { assertValidEnvName } from '../store/env-name.js';
import { withEnvLock } from '../locks/env-lock.js';
import { envPaths, venvHome } from '../store/paths.js';
import { readMeta } from '../store/env-store.js';
import { recoverUpper, swapLeftovers } from '../store/upper-swap.js';
import { inUserns } from '../host/userns.js';
import { escapeControl } from '../cli/text.js';
import { join } from 'node:path';

export type { Change };

export interface DiffOptions {
  name: string;
  home?: string;
  /** Called as changes come in, with their count so far (and 0: their number is not known before the end). */
  onProgress?: (done: number, total: number) => void;
}

export async function diff(options: DiffOptions): Promise<Change[]> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const meta = await readMeta(options.name, home);
  const paths = envPaths(options.name, home);
  if (swapLeftovers(paths)) await withEnvLock(paths.lockTarget, options.name, () => recoverUpper(paths, meta.mapping));
  const script = new URL('../archive/diff-worker.js', import.meta.url).pathname;
  const workerOptions = {
    upper: paths.upper,
    trustedXattrs: meta.mapping === 'host',
    prepared: join(paths.run, 'prepared'),
    // An env on a base changed the base's tree, not the host's /.
    ...(meta.base === undefined ? {} : { lower: baseTree(home, meta.base) }),
  };
  const [file, args] = inUserns(meta.mapping, [process.execPath, script, JSON.stringify(workerOptions)]);
  // The worker prints a line per change as it walks: counting them is the progress, for
  // nearly every entry of the upper dir is a change.
  let seen = 0;
  const onStdout = options.onProgress
    ? (chunk: Buffer) => {
        for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) seen += 1;
        options.onProgress?.(seen, 0);
      }
    : undefined;
  const result = await run(file, args, { failWith: 'IO_FAILED', onStdout });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Change);
}

/** One line per change: the kind, then the path (control characters escaped). */
export function formatDiff(changes: Change[]): string {
  if (changes.length === 0) return '';
  return `${changes.map((change) => `${change.kind.padEnd(9)}  ${escapeControl(change.path)}`).join('\n')}\n`;
}
