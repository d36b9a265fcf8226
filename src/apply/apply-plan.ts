// What `venv apply` does to the host, as a list of operations the worker (apply-worker.ts)
// computes from the env's changes and later carries out. Paths are relative to / and kept
// as latin1 strings (one code unit per byte, as upper-walk.ts gives them), so that names
// that are not UTF-8 survive; `show` is the path for people.
import type { ChangeKind, EntryType } from '../archive/diff-worker.js';
import { escapeControl } from '../cli/text.js';
import { VenvError } from '../errors.js';

export type ApplyAction =
  /** Nothing at the path on the host: the env's entry (a whole tree for a directory) is put there. */
  | 'add'
  /** The host's entry (a whole tree for a directory) is replaced by the env's. */
  | 'replace'
  /** The host's entry (a whole tree for a directory) is removed. */
  | 'delete'
  /** A directory on both sides whose mode (and, as root, owner) the env changed. */
  | 'chmod';

export interface ApplyOp {
  /** Relative to /, latin1. */
  path: string;
  /** Absolute, for messages (UTF-8 decoded). */
  show: string;
  action: ApplyAction;
  /** The word `venv diff` uses for it. */
  kind: ChangeKind;
  /** The env's entry: its type (for a deletion, the host's). */
  type: EntryType;
  /** The env's entry below the tree the worker reads (latin1): a whiteout's own name for a deletion. */
  entry: string;
  /** The host's entry as the plan saw it: type and ctime (ns), checked again before it is changed. */
  host?: { type: EntryType; ctime: string; uid: number };
  /** Why the host's entry counts as changed since the env made its own (the conflict rule). */
  conflict?: string;
  /** Host directories (absolute, latin1) a deletion or replacement must remove entries from. */
  hostDirs?: string[];
  /** Paths in the env's entry (absolute, UTF-8) that only root may apply: devices, setuid bits. */
  rootOnly?: string[];
}

/** A path given on the command line, as the op paths are: relative to /, latin1, no "." or "..". */
export function normalizeFilter(path: string): string {
  if (!path.startsWith('/')) {
    throw new VenvError('USAGE', `PATH must be absolute, as seen inside the env: got "${path}"`, {
      hint: 'give it from the root, e.g. /etc/hosts',
    });
  }
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return Buffer.from(parts.join('/'), 'utf8').toString('latin1');
}

const below = (path: string, top: string) => top === '' || path === top || path.startsWith(`${top}/`);

/**
 * The ops at or below one of `filters` (all of them when there is none). A filter inside
 * an op that takes a whole tree (a new or replaced directory) cannot be applied alone.
 */
export function selectOps(ops: ApplyOp[], filters: string[]): ApplyOp[] {
  if (filters.length === 0) return ops;
  for (const filter of filters) {
    const whole = ops.find((op) => op.action !== 'chmod' && op.path !== filter && below(filter, op.path));
    if (whole) {
      throw new VenvError(
        'USAGE',
        `${Buffer.from(filter, 'latin1').toString('utf8') || '/'} is inside ${whole.show}, which the env ${whole.kind === 'deleted' ? 'deleted' : 'made or replaced'} as a whole`,
        { hint: `give ${whole.show} instead` },
      );
    }
  }
  return ops.filter((op) => filters.some((filter) => below(op.path, filter)));
}

/** One line per op, as `venv diff` prints its changes. */
export function formatOps(ops: ApplyOp[]): string {
  return ops.map((op) => `${op.kind.padEnd(9)}  ${escapeControl(op.show)}\n`).join('');
}

/** What the worker reports on stdout, one JSON object a line. */
export type WorkerReport =
  | { done: number; total: number }
  | { result: 'applied'; count: number; left: string[] }
  | { result: 'rolled-back'; why: string; code?: string; signal?: string; kept: string[]; left: string[] };
