// What venv wrote itself into an upper dir when it made the env (pkg/prepare-env.ts:
// empty lock files, locked shadow files, apt settings, ...), listed in run/prepared.
// These are venv's scaffolding for this host, not the env's changes: `venv diff` does not
// show them and `venv commit` leaves them out while the env has not changed them; `venv
// restore` writes them anew for the host it runs on.
import { lstatSync } from 'node:fs';
import { dirname, basename } from 'node:path';
import { signature } from '../pkg/prepared-manifest.js';
import { READ_LIMITS, readEnvFile } from '../store/env-files.js';

export class Prepared {
  private constructor(
    private readonly upper: string,
    /** Path relative to the upper dir (latin1, as the walk gives them) -> signature. */
    private readonly entries: Map<string, string>,
  ) {}

  /** Reads a run/prepared manifest ("signature<TAB>/path" lines); none is fine. */
  static load(upper: string, manifest: string | undefined): Prepared {
    const entries = new Map<string, string>();
    // None: an env made before manifests existed. One that is not a regular file of a
    // sane size is refused (store/env-files.ts), not read.
    const text = (manifest && readEnvFile(dirname(manifest), basename(manifest), READ_LIMITS.prepared)) || '';
    for (const line of text.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab <= 0) continue;
      const path = line.slice(tab + 1).replace(/^\/+/, '');
      entries.set(Buffer.from(path, 'utf8').toString('latin1'), line.slice(0, tab));
    }
    return new Prepared(upper, entries);
  }

  /** True when venv wrote `path` and it is still as venv wrote it. */
  unchanged(path: string): boolean {
    const recorded = this.entries.get(path);
    if (recorded === undefined) return false;
    try {
      const stat = lstatSync(Buffer.concat([Buffer.from(this.upper), Buffer.from(`/${path}`, 'latin1')]));
      return signature(stat) === recorded;
    } catch {
      return false;
    }
  }
}
