// run/applied: when `venv apply` last wrote each path to the host, one JSON line per op
// ({"p": path relative to / as latin1, "t": ns since the epoch}), appended after each
// successful apply. The conflict rule (plan-ops.ts) takes the later of the env entry's
// birth time and this time: what the host holds since the last apply is the env's own
// work, and only a host change after it is a conflict. A missing or unreadable record
// only makes the rule stricter.
import type { ApplyOp } from './apply-plan.js';
import { READ_LIMITS, readEnvFile, SafeDir } from '../store/env-files.js';

export type AppliedTimes = Map<string, bigint>;

export function readApplied(runDir: string): AppliedTimes {
  const times: AppliedTimes = new Map();
  let text: string | undefined;
  try {
    text = readEnvFile(runDir, 'applied', READ_LIMITS.applied);
  } catch {
    return times;
  }
  for (const line of (text ?? '').split('\n')) {
    try {
      const { p, t } = JSON.parse(line) as { p: unknown; t: unknown };
      if (typeof p === 'string' && typeof t === 'string' && /^\d+$/.test(t)) {
        const time = BigInt(t);
        if (time > (times.get(p) ?? 0n)) times.set(p, time);
      }
    } catch {
      // a torn or foreign line: ignored
    }
  }
  return times;
}

/** The time of `path` or of the nearest directory above it that an apply wrote; 0 if none. */
export function appliedTime(times: AppliedTimes, path: string): bigint {
  for (let at = path; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/')))) {
    const time = times.get(at);
    if (time !== undefined) return time;
    if (at === '') return 0n;
  }
}

export function recordApplied(runDir: string, ops: ApplyOp[], time: bigint): void {
  const dir = SafeDir.open(runDir);
  try {
    dir.append('applied', ops.map((op) => `${JSON.stringify({ p: op.path, t: String(time) })}\n`).join(''));
  } finally {
    dir.close();
  }
}
