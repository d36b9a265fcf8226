// `venv bases` as a table: one base a line.
import type { BaseInfo } from '../commands/bases.js';
import { formatBytes } from './format-bytes.js';
import { formatTable } from './format-table.js';

export function formatBases(bases: readonly BaseInfo[]): string {
  if (bases.length === 0) return 'no bases (venv create --base SOURCE NAME imports one)\n';
  const rows = bases.map((base) => [
    base.id,
    base.kind,
    formatBytes(base.bytes),
    base.envs.length === 0 ? '-' : base.envs.join(','),
    base.source,
  ]);
  return formatTable(['ID', 'KIND', 'SIZE', 'ENVS', 'SOURCE'], rows);
}
