// The upper-dir entries venv wrote itself when it prepared an env (prepare-env.ts), kept in
// run/prepared, so that `venv list` counts as changes only what the env did: a new env
// has none. An entry the env has since changed (other size or time) counts again.
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { inUpper, lstatEnvFile, READ_LIMITS, readEnvFile, SafeDir } from '../store/env-files.js';
import type { EnvPaths } from '../store/paths.js';

/** How an entry looked when venv wrote it: directories always match (they hold no bytes). */
export function signature(stat: Stats): string {
  return stat.isDirectory() ? 'dir' : `${stat.size}:${stat.mtimeMs}`;
}

/** Appends the created paths (as seen inside the env), one "signature<TAB>path" line each. */
export function recordPrepared(paths: EnvPaths, created: string[]): void {
  const lines: string[] = [];
  for (const path of created) {
    const stat = lstatEnvFile(...inUpper(paths.upper, path));
    if (stat) lines.push(`${signature(stat)}\t${path}\n`);
  }
  if (lines.length === 0) return;
  const run = SafeDir.open(paths.dir, 'run', { create: 0o700 });
  try {
    run.append('prepared', lines.join(''));
  } finally {
    run.close();
  }
}

/** Absolute upper-dir path -> signature; empty for an env without a manifest. */
export function readPrepared(paths: EnvPaths): Map<string, string> {
  const prepared = new Map<string, string>();
  const text = readEnvFile(paths.run, 'prepared', READ_LIMITS.prepared) ?? '';
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) prepared.set(join(paths.upper, line.slice(tab + 1)), line.slice(0, tab));
  }
  return prepared;
}
