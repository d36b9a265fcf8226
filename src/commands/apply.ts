// `venv apply NAME [PATH...]`: writes the env's changes onto the host's file system (see
// src/apply/ and the README's "Applying an env to the host"). The env is held (its admin
// lock, and its start mutex with nothing of it running) from the plan to the end, so the
// list the user saw is what is applied; the host is checked again entry by entry as the
// worker goes.
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type ApplyOp, normalizeFilter, selectOps, type WorkerReport } from '../apply/apply-plan.js';
import type { ApplyWorkerOptions } from '../apply/apply-worker.js';
import { accessRefusals } from '../apply/host-access.js';
import { start } from '../archive/child.js';
import { flattenLayers } from '../archive/flatten.js';
import { interruptible, type Progress } from '../cli/interrupt.js';
import { escapeControl } from '../cli/text.js';
import { type ErrorCode, VenvError } from '../errors.js';
import { run } from '../host/exec.js';
import { inUserns } from '../host/userns.js';
import { withEnvLock } from '../locks/env-lock.js';
import { withEnvExclusive } from '../locks/start-lock.js';
import { assertValidEnvName } from '../store/env-name.js';
import { type EnvMeta, readMeta, removeTree } from '../store/env-store.js';
import { layerTree } from '../store/layers.js';
import { envPaths, venvHome } from '../store/paths.js';
import { recoverUpper } from '../store/upper-swap.js';

export interface ApplyOptions {
  name: string;
  /** Apply only what is at or below these paths (absolute, as seen inside the env). */
  paths?: string[];
  /** Show what would be applied; write nothing. */
  dryRun?: boolean;
  /** Overwrite host files that changed since the env took its copy. */
  force?: boolean;
  /** After applying, remove what was applied from the env (not for a stacked env). */
  clear?: boolean;
  home?: string;
  /** Called with the list before anything is checked or written. */
  onPlan?: (ops: ApplyOp[]) => void;
  /** Called once the checks passed, before anything is written (not with dryRun); throws to stop. */
  confirm?: (ops: ApplyOp[]) => Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export interface ApplyResult {
  ops: ApplyOp[];
  applied: boolean;
  /** The layers of a stacked env, whose changes were applied too. */
  layers: number;
  /** Temporary entries left on the host, or entries --clear could not remove. */
  left: string[];
}

/** At most this many names in a one-line refusal. */
const NAMED = 8;

function nameSome(items: string[]): string {
  const more = items.length > NAMED ? `; and ${items.length - NAMED} more` : '';
  // Names from the env or the host may hold newlines: the refusal stays one line.
  return `${items.slice(0, NAMED).map(escapeControl).join('; ')}${more}`;
}

export async function apply(options: ApplyOptions): Promise<ApplyResult> {
  assertValidEnvName(options.name);
  const home = options.home ?? venvHome();
  const filters = (options.paths ?? []).map(normalizeFilter);
  const meta = await readMeta(options.name, home);
  // Its changes are changes of the base's files, not of the host's: a deletion would delete
  // the host's file of that name.
  if (meta.base !== undefined) {
    throw new VenvError(
      'USAGE',
      `env "${options.name}" stands on base ${meta.base}: its changes are not changes of the host`,
      {
        hint: `take them with "venv commit ${options.name}" instead`,
      },
    );
  }
  if (options.clear && meta.layers.length > 0) {
    throw new VenvError('USAGE', `--clear cannot empty env "${options.name}": it stands on layers other envs share`, {
      hint: 'apply without --clear, or remove the env afterwards (venv rm)',
    });
  }
  const paths = envPaths(options.name, home);
  return withEnvLock(paths.lockTarget, options.name, async () => {
    await recoverUpper(paths, meta.mapping);
    return withEnvExclusive(paths, home, {}, () =>
      interruptible(async (signal, progress) => {
        const scratch = join(home, 'tmp');
        const flat = meta.layers.length > 0 ? await flattenLayers(paths, home, meta, scratch, signal) : undefined;
        try {
          const worker: ApplyWorkerOptions = {
            mode: 'plan',
            tree: flat?.upper ?? paths.upper,
            sources: [paths.upper, ...meta.layers.map((id) => layerTree(home, id))],
            prepared: flat?.prepared ?? join(paths.run, 'prepared'),
            trustedXattrs: meta.mapping === 'host',
            fallbackTime: String(BigInt(Date.parse(meta.created) || 0) * 1_000_000n),
            root: meta.mapping === 'host',
            clear: options.clear,
            run: paths.run,
          };
          const ops = selectOps(await planInWorker(meta, worker, signal), filters);
          const result = { ops, applied: false, layers: meta.layers.length, left: [] as string[] };
          options.onPlan?.(ops);
          refuse(options, ops);
          if (options.dryRun || ops.length === 0) return result;
          await options.confirm?.(ops);
          signal.throwIfAborted();
          result.left = await applyInWorker(meta, { ...worker, mode: 'apply' }, ops, signal, progress, options);
          result.applied = true;
          return result;
        } finally {
          if (flat) await removeTree(flat.dir, meta.mapping);
        }
      }),
    );
  });
}

/** Refuses, naming them, what the caller may not write and (without --force) conflicts. */
function refuse(options: ApplyOptions, ops: ApplyOp[]): void {
  const denied = accessRefusals(ops);
  if (denied.length > 0) {
    throw new VenvError('APPLY_REFUSED', `cannot apply env "${options.name}" as you: ${nameSome(denied)}`, {
      hint: 'nothing was applied; give PATHs to apply the rest, or run it as root (sudo) if it is meant for the system',
    });
  }
  const conflicts = ops.flatMap((op) => (op.conflict ? [op.conflict] : []));
  if (conflicts.length > 0 && !options.force) {
    throw new VenvError(
      'APPLY_CONFLICT',
      `the host changed what env "${options.name}" changed: ${nameSome(conflicts)}`,
      {
        hint: 'nothing was applied; look at those files, then use --force to overwrite them, or give PATHs to apply the rest',
      },
    );
  }
}

const workerScript = () => new URL('../apply/apply-worker.js', import.meta.url).pathname;

/** "CODE message" on the worker's stderr for a VenvError of its own. */
function workerError(stderr: string): VenvError {
  const last = stderr.trim().split('\n').at(-1) ?? '';
  const match = /^([A-Z_]+) (.*)$/.exec(last);
  if (match) return new VenvError(match[1] as ErrorCode, match[2] ?? '');
  return new VenvError('IO_FAILED', `apply-worker.js failed: ${last || 'no message'}`);
}

async function planInWorker(meta: EnvMeta, options: ApplyWorkerOptions, signal: AbortSignal): Promise<ApplyOp[]> {
  const [file, args] = inUserns(meta.mapping, [process.execPath, workerScript(), JSON.stringify(options)]);
  const result = await run(file, args, { signal });
  signal.throwIfAborted();
  if (result.exitCode !== 0) throw workerError(result.stderr);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ApplyOp);
}

async function applyInWorker(
  meta: EnvMeta,
  options: ApplyWorkerOptions,
  ops: ApplyOp[],
  signal: AbortSignal,
  progress: Progress,
  callbacks: ApplyOptions,
): Promise<string[]> {
  const [file, args] = inUserns(meta.mapping, [process.execPath, workerScript(), JSON.stringify(options)]);
  const worker = start(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // A signal to venv reaches the worker as SIGTERM; it undoes what it did and reports.
  // (Ctrl-C on a terminal reaches it directly too.)
  const forward = () => {
    try {
      if (worker.process.pid) process.kill(worker.process.pid, 'SIGTERM');
    } catch {
      // gone already
    }
  };
  signal.addEventListener('abort', forward, { once: true });
  worker.process.stdin?.on('error', () => undefined);
  worker.process.stdin?.end(ops.map((op) => `${JSON.stringify(op)}\n`).join(''));
  let report: Exclude<WorkerReport, { done: number }> | undefined;
  let stderr = '';
  worker.process.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
  let partial = '';
  for await (const chunk of worker.process.stdout as Readable) {
    const lines = (partial + (chunk as Buffer).toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as WorkerReport;
      if ('done' in parsed) callbacks.onProgress?.(parsed.done, parsed.total);
      else report = parsed;
    }
  }
  try {
    await worker.done;
  } catch (error) {
    if (!report) throw stderr.trim() ? workerError(stderr) : error;
  } finally {
    signal.removeEventListener('abort', forward);
  }
  if (!report) throw new VenvError('IO_FAILED', 'apply-worker.js ended without a report: the host may be half applied');
  if (report.result === 'applied') {
    progress.made = `applied ${report.count} changes of env "${callbacks.name}" to the host`;
    return report.left;
  }
  const left = report.left.length > 0 ? `; temporary entries left: ${nameSome(report.left)}` : '';
  if (report.kept.length > 0) {
    progress.made = `these could not be undone: ${nameSome(report.kept)}${left}`;
    throw new VenvError('IO_FAILED', `${report.why}; and these could not be undone: ${nameSome(report.kept)}${left}`, {
      hint: "look at those paths on the host: they hold the env's version",
    });
  }
  throw new VenvError(
    (report.code as ErrorCode | undefined) ?? 'IO_FAILED',
    `${report.why}; nothing was applied (what was done is undone)${left}`,
    {
      hint: report.code === 'HOST_CHANGED' ? 'run venv apply again to see the new list' : undefined,
    },
  );
}
