// Carries the plan out on the host, all or nothing as far as the file system allows:
//   1. stage: every new entry is made under a temporary name next to where it goes
//      (stage-entry.ts), after checking that the host's entry is still what the plan saw;
//   2. commit: in plan order (parents first), the host's entry is renamed to a backup
//      name next to it and the staged one renamed into place (a directory's mode set);
//   3. finish: the backups are removed.
// A failure or a signal (SIGINT, SIGTERM, SIGHUP) before the end of 2 undoes what was
// done, in reverse: the placed entries are moved away, the backups renamed back, the
// modes set back, the staged entries removed. What could not be undone is reported by
// name. Between two renames the host shows part of the change: that is the limit of
// "all or nothing" on a file system without multi-rename transactions.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, constants, openSync, renameSync, rmSync } from 'node:fs';
import { VenvError } from '../errors.js';
import type { ApplyOp } from './apply-plan.js';
import { HostDir, O_PATH, shown, splitPath } from './host-dir.js';
import { lstatSync } from 'node:fs';
import { under } from '../archive/commit-worker.js';
import { type StageContext, setMeta, stageEntry } from './stage-entry.js';

interface Step {
  op: ApplyOp;
  /** The staged entry's temporary name in the op's parent directory. */
  staged?: string;
  /** The host's old entry, renamed here by the commit. */
  backup?: string;
  /** The directory's mode and owner before a chmod op. */
  old?: { mode: number; uid: number; gid: number };
  placed?: boolean;
}

export interface ApplyHooks {
  /** True once a signal asked to stop. */
  stopping(): boolean;
  progress(done: number, total: number): void;
}

const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
let counter = 0;
const tempName = (suffix: string) => `.venv-apply-${tag}-${counter++}${suffix}`;
const tick = () => new Promise((resolve) => setImmediate(resolve));

class Stopped extends Error {}

function inParent<T>(op: ApplyOp, work: (dir: HostDir, name: string) => T): T {
  const [dirRel, name] = splitPath(op.path);
  const dir = HostDir.reach(dirRel);
  try {
    return work(dir, name);
  } finally {
    dir.close();
  }
}

/** The host's entry must be as the plan saw it (none, or the same type and ctime). */
function checkHost(op: ApplyOp, dir: HostDir, name: string): void {
  const now = dir.lstat(name);
  const same = op.host ? now !== undefined && String(now.ctimeNs) === op.host.ctime : now === undefined;
  if (!same) {
    throw new VenvError('HOST_CHANGED', `${op.show} changed on the host while venv apply ran`, {
      hint: 'run venv apply again to see the new list',
    });
  }
}

function commitStep(step: Step, ctx: StageContext): void {
  inParent(step.op, (dir, name) => {
    checkHost(step.op, dir, name);
    if (step.op.action === 'chmod') {
      const fd = openSync(dir.at(name), O_PATH | constants.O_NOFOLLOW);
      try {
        const now = lstatSync(`/proc/self/fd/${fd}`);
        step.old = { mode: now.mode & 0o7777, uid: now.uid, gid: now.gid };
      } finally {
        closeSync(fd);
      }
      setMeta(dir, name, lstatSync(under(ctx.tree, step.op.entry), { bigint: true }), ctx.root, false);
      return;
    }
    if (step.op.host) {
      const backup = tempName('.old');
      renameSync(dir.at(name), dir.at(backup));
      step.backup = backup;
    }
    if (step.staged) {
      renameSync(dir.at(step.staged), dir.at(name));
      step.placed = true;
    }
  });
}

/** Undoes one committed step; returns what could not be undone, if anything. */
function undoStep(step: Step): string | undefined {
  try {
    inParent(step.op, (dir, name) => {
      if (step.old) {
        const fd = openSync(dir.at(name), O_PATH | constants.O_NOFOLLOW);
        try {
          if (process.getuid?.() === 0) chownSync(`/proc/self/fd/${fd}`, step.old.uid, step.old.gid);
          chmodSync(`/proc/self/fd/${fd}`, step.old.mode);
        } finally {
          closeSync(fd);
        }
      }
      if (step.placed && step.staged) {
        renameSync(dir.at(name), dir.at(step.staged));
        step.placed = false;
      }
      if (step.backup) {
        renameSync(dir.at(step.backup), dir.at(name));
        step.backup = undefined;
      }
    });
    return undefined;
  } catch (error) {
    return `${step.op.show}: ${(error as Error).message}`;
  }
}

/** Removes a temporary entry of this apply; returns it (named) when that failed. */
function removeTemp(step: Step, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  try {
    inParent(step.op, (dir) => rmSync(dir.at(name), { recursive: true, force: true }));
    return undefined;
  } catch {
    const [dirRel] = splitPath(step.op.path);
    return shown(dirRel === '' ? name : `${dirRel}/${name}`);
  }
}

export interface ApplyOutcome {
  /** Applied: every op is in place. Else it was all undone but for `kept`. */
  applied: boolean;
  /** Ops left applied though the whole was not (their undo failed). */
  kept: string[];
  /** Temporary entries left on the host (staged copies, backups) that could not be removed. */
  left: string[];
  error?: unknown;
}

export async function applyOps(ops: ApplyOp[], ctx: StageContext, hooks: ApplyHooks): Promise<ApplyOutcome> {
  const steps: Step[] = ops.map((op) => ({ op }));
  const total = steps.length * 2;
  let done = 0;
  let committed = 0;
  try {
    for (const step of steps) {
      if (step.op.action === 'add' || step.op.action === 'replace') {
        inParent(step.op, (dir, name) => {
          checkHost(step.op, dir, name);
          const staged = tempName('');
          step.staged = staged;
          stageEntry(ctx, step.op.entry, dir, staged);
        });
      }
      hooks.progress(++done, total);
      await tick();
      if (hooks.stopping()) throw new Stopped();
    }
    for (const step of steps) {
      commitStep(step, ctx);
      committed++;
      hooks.progress(++done, total);
      // The last rename is the point of no return: a signal after it changes nothing.
      if (committed < steps.length) {
        await tick();
        if (hooks.stopping()) throw new Stopped();
      }
    }
  } catch (error) {
    const kept: string[] = [];
    for (const step of steps.slice(0, committed + 1).reverse()) {
      const failed = undoStep(step);
      if (failed) kept.push(failed);
    }
    const left = steps.flatMap((step) => [removeTemp(step, step.staged), removeTemp(step, step.backup)]);
    return { applied: false, kept, left: left.filter((x): x is string => x !== undefined), error };
  }
  const left = steps.map((step) => removeTemp(step, step.backup)).filter((x): x is string => x !== undefined);
  return { applied: true, kept: [], left };
}

export { Stopped };
