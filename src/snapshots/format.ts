import { formatBytes } from '../cli/format-bytes.js';
import type { SnapshotMeta } from './snapshot-store.js';
import { formatTable } from '../cli/format-table.js';

export function formatSnapshots(name: string, snapshots: SnapshotMeta[]): string {
  if (snapshots.length === 0) return `env "${name}" has no snapshots: take one with "venv snapshot ${name}"\n`;
  const rows = snapshots.map((s) => [
    s.tag,
    s.created.slice(0, 19).replace('T', ' '),
    formatBytes(s.bytes),
    s.live ? 'taken while in use' : '',
  ]);
  return formatTable(['TAG', 'CREATED', 'SIZE', ''], rows);
}
