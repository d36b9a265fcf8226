// The apply worker: `node apply-worker.js JSON`, run in a user namespace with the env's
// mapping (where every entry of its upper dir can be read), or as real root for an env of
// real root. "plan" prints the ops (plan-ops.ts), one JSON object a line; "apply" reads
// the ops the user saw on stdin, carries them out (apply-ops.ts), reports progress and
// the outcome on stdout (apply-plan.ts's WorkerReport), and with `clear` then removes the
// applied entries from the env's upper dir. It handles SIGINT, SIGTERM and SIGHUP itself:
// what was done is undone before it exits.
import { rmSync } from 'node:fs';
import { under } from '../archive/commit-worker.js';
import { opaqueDirs } from '../archive/opaque-dirs.js';
import { Prepared } from '../archive/prepared.js';
import { OPAQUE_MARKER } from '../archive/upper-walk.js';
import { VenvError } from '../errors.js';
import type { ApplyOp, WorkerReport } from './apply-plan.js';
import { applyOps } from './apply-ops.js';
import { checkConflicts, planOps } from './plan-ops.js';
import { readApplied, recordApplied } from './applied-record.js';

export interface ApplyWorkerOptions {
  mode: 'plan' | 'apply';
  /** What is applied: the env's upper dir, or its flattened layers and upper dir. */
  tree: string;
  /** Where birth times are read, top first. */
  sources: string[];
  /** The env's run/prepared manifest (or the flattened one). */
  prepared: string;
  /** Read trusted.overlay.opaque too (real root's kernel overlay). */
  trustedXattrs: boolean;
  /** The env's creation (ns since the epoch), for a file system without birth times. */
  fallbackTime: string;
  /** Real root: owners and devices are applied. */
  root: boolean;
  /** After applying: remove the applied entries from `tree` (the env's own upper dir). */
  clear?: boolean;
  /** The env's run/ dir: its `applied` record is read (plan) and appended to (apply). */
  run: string;
}

const write = (report: WorkerReport | ApplyOp) => process.stdout.write(`${JSON.stringify(report)}\n`);

async function load(options: ApplyWorkerOptions) {
  const prepared = Prepared.load(options.tree, options.prepared);
  const opaque = await opaqueDirs(options.tree, options.trustedXattrs);
  for (const dir of opaque)
    if (prepared.unchanged(dir === '' ? OPAQUE_MARKER : `${dir}/${OPAQUE_MARKER}`)) opaque.delete(dir);
  return { prepared, opaque };
}

async function plan(options: ApplyWorkerOptions): Promise<void> {
  const { prepared, opaque } = await load(options);
  const input = {
    tree: options.tree,
    sources: options.sources,
    opaque,
    prepared,
    fallbackTime: BigInt(options.fallbackTime),
    root: options.root,
    applied: readApplied(options.run),
  };
  const ops = planOps(input);
  checkConflicts(input, ops);
  for (const op of ops) write(op);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function apply(options: ApplyWorkerOptions): Promise<void> {
  let signal: NodeJS.Signals | undefined;
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, () => (signal ??= name));
  const ops = (await readStdin())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ApplyOp);
  const { prepared } = await load(options);
  const outcome = await applyOps(
    ops,
    { tree: options.tree, prepared, root: options.root },
    { stopping: () => signal !== undefined, progress: (done, total) => write({ done, total }) },
  );
  if (!outcome.applied) {
    const error = outcome.error;
    write({
      result: 'rolled-back',
      why: signal ? `interrupted by ${signal}` : error instanceof Error ? error.message : String(error),
      code: error instanceof VenvError ? error.code : undefined,
      signal,
      kept: outcome.kept,
      left: outcome.left,
    });
    return;
  }
  const left = [...outcome.left];
  try {
    recordApplied(options.run, ops, BigInt(Date.now()) * 1_000_000n);
  } catch (error) {
    left.push(`the record of what was applied (run/applied): ${(error as Error).message}`);
  }
  if (options.clear) {
    for (const op of ops) {
      if (op.action === 'chmod') continue;
      try {
        rmSync(under(options.tree, op.entry), { recursive: true, force: true });
      } catch (error) {
        left.push(`${op.show} stays in the env: ${(error as Error).message}`);
      }
    }
  }
  write({ result: 'applied', count: ops.length, left });
}

if (process.argv[1]?.endsWith('apply-worker.js')) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ApplyWorkerOptions;
  (options.mode === 'plan' ? plan(options) : apply(options)).catch((error: unknown) => {
    const code = error instanceof VenvError ? `${error.code} ` : '';
    process.stderr.write(`${code}${(error as Error).message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
