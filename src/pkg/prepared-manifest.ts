// The upper-dir entries venv wrote itself when it prepared an env (prepare-env.ts), kept in
// run/prepared, so that `venv list` counts as changes only what the env did: a new env
// has none. An entry the env has since changed (other size or time) counts again.
import { appendFileSync, lstatSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { EnvPaths } from '../store/paths.js';

/** How an entry looked when venv wrote it: directories always match (they hold no bytes). */
export function signature(stat: Stats): string {
  return stat.isDirectory() ? 'dir' : `${stat.size}:${stat.mtimeMs}`;
}

function manifestPath(paths: EnvPaths): string {
  return join(paths.run, 'prepared');
}

/** Appends the created paths (as seen inside the env), one "signature<TAB>path" line each. */
export function recordPrepared(paths: EnvPaths, created: string[]): void {
  const lines = created.map((path) => `${signature(lstatSync(join(paths.upper, path)))}\t${path}\n`);
  if (lines.length > 0) appendFileSync(manifestPath(paths), lines.join(''));
}

/** Absolute upper-dir path -> signature; empty for an env without a manifest. */
export function readPrepared(paths: EnvPaths): Map<string, string> {
  const prepared = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync(manifestPath(paths), 'utf8');
  } catch {
    return prepared;
  }
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) prepared.set(join(paths.upper, line.slice(tab + 1)), line.slice(0, tab));
  }
  return prepared;
}
