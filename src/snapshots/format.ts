import { formatBytes } from '../commands/list.js';
import type { SnapshotMeta } from './snapshot-store.js';

export function formatSnapshots(name: string, snapshots: SnapshotMeta[]): string {
  if (snapshots.length === 0) return `env "${name}" has no snapshots: take one with "venv snapshot ${name}"\n`;
  const rows = snapshots.map((s) => [
    s.tag,
    s.created.slice(0, 19).replace('T', ' '),
    formatBytes(s.bytes),
    s.live ? 'taken while in use' : '',
  ]);
  const header = ['TAG', 'CREATED', 'SIZE', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const lines = [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
