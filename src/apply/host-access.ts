// What an apply by an ordinary user may not do, found before anything is written (the
// worker runs in the env's user namespace, where it could write more than the caller:
// files of the caller's subordinate ids). Checked as the caller, outside any namespace:
// each directory an entry is added to, replaced in or removed from must be writable
// (and searchable) by the caller; in a sticky directory the entry must be the caller's
// (or the directory); a directory whose mode changes must be the caller's; the whole
// tree of a directory removed must be readable, writable and searchable; devices and
// set-id bits are for root only.
import { accessSync, constants, lstatSync } from 'node:fs';
import type { ApplyOp } from './apply-plan.js';
import { shown, splitPath } from './host-dir.js';

const { R_OK, W_OK, X_OK } = constants;

export function accessRefusals(ops: ApplyOp[], uid = process.getuid?.() ?? 0): string[] {
  if (uid === 0) return [];
  const refusals: string[] = [];
  const checked = new Map<string, boolean>();
  const may = (path: string, mode: number) => {
    const key = `${mode}:${path}`;
    let ok = checked.get(key);
    if (ok === undefined) {
      try {
        accessSync(Buffer.from(path, 'latin1'), mode);
        ok = true;
      } catch {
        ok = false;
      }
      checked.set(key, ok);
    }
    return ok;
  };
  for (const op of ops) {
    for (const why of op.rootOnly ?? []) refusals.push(`${why}: only root may apply it`);
    const [dirRel] = splitPath(op.path);
    const parent = `/${dirRel}`;
    if (op.action === 'chmod') {
      if (op.host && op.host.uid !== uid) refusals.push(`${op.show}: its mode changed, and it is not yours`);
      continue;
    }
    if (!may(parent, W_OK | X_OK)) {
      refusals.push(`${shown(dirRel)}: you may not write it (${op.kind} ${op.show})`);
      continue;
    }
    if (op.host && op.host.uid !== uid) {
      const stat = lstatSync(Buffer.from(parent, 'latin1'));
      if ((stat.mode & 0o1000) !== 0 && stat.uid !== uid) {
        refusals.push(`${op.show}: it is not yours, in a sticky directory (${op.kind})`);
      }
    }
    for (const dir of op.hostDirs ?? []) {
      if (!may(dir, R_OK | W_OK | X_OK))
        refusals.push(`${shown(dir.slice(1))}: you may not remove what is in it (${op.kind} ${op.show})`);
    }
  }
  return refusals;
}
