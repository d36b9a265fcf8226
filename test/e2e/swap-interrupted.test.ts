// rollback and restore --force interrupted (SIGINT to the process group, as Ctrl-C sends
// it; SIGTERM to venv alone) while the new tree is being built and while the old one is
// being deleted: the message says truthfully whether the change was made, the env has
// either its old or its new state (never a mix), and what was left to clean up goes with
// the next command. Each phase is caught by watching the env dir for its staging dir; the
// old tree has 15000 files, so that deleting it lasts long enough to be caught.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('swap-interrupted');
const ENV = 'big';
/** The old state's tree is big, so that deleting it takes a while; the new one's is small. */
const SIZE: Record<string, [number, number]> = { A: [2, 5], B: [40, 75] };
const dir = () => e2e.envDir(ENV);

/** Writes state S (A or B) straight into the upper dir of the env, which is not running. */
function writeState(state: string): void {
  const opt = `${dir()}/upper/opt`;
  const [dirs, files] = SIZE[state] ?? [0, 0];
  rmSync(opt, { recursive: true, force: true });
  for (let d = 0; d < dirs; d++) {
    mkdirSync(`${opt}/tree${state}/d${d}`, { recursive: true });
    for (let f = 0; f < files; f++) writeFileSync(`${opt}/tree${state}/d${d}/f${f}`, '');
  }
  writeFileSync(`${opt}/state`, `${state}\n`);
}

/** "A" or "B" when the upper dir holds exactly that state, else what is wrong with it. */
function stateOf(): string {
  const opt = `${dir()}/upper/opt`;
  let state: string;
  try {
    state = readFileSync(`${opt}/state`, 'utf8').trim();
  } catch {
    return `no ${opt}/state`;
  }
  const other = state === 'A' ? 'B' : 'A';
  if (existsSync(`${opt}/tree${other}`)) return `a mix: state ${state} with tree${other}`;
  const [dirs, files] = SIZE[state] ?? [0, 0];
  let found = 0;
  for (const d of readdirSync(`${opt}/tree${state}`)) found += readdirSync(`${opt}/tree${state}/${d}`).length;
  return found === dirs * files ? state : `state ${state} with ${found} of ${dirs * files} files`;
}

async function ok(args: string[]): Promise<void> {
  const result = await e2e.venv(args);
  assert.equal(result.exitCode, 0, `venv ${args.join(' ')}: ${result.stderr}`);
}

type Phase = 'building' | 'deleting';
/** What shows that a phase has begun: the new tree's staging dir, or the old tree's. */
const MARK: Record<Phase, string> = { building: '.upper-next', deleting: '.upper-prev' };

interface Outcome {
  changed: boolean;
  /** The old tree was left for the next command. */
  left: boolean;
}

/**
 * Runs `args` (which change state B to A) and interrupts it once `phase` has begun.
 * Asserts that what it says matches what it did, and returns that.
 */
async function interrupt(args: string[], phase: Phase, signal: 'SIGINT' | 'SIGTERM'): Promise<Outcome> {
  // Files the env's own root made belong to the user on the host: they can be rewritten here.
  if (stateOf() !== 'B') writeState('B');
  const child = spawnVenv(e2e.home, args, { detached: true });
  let running = true;
  void child.finally(() => (running = false));
  while (running && !existsSync(`${dir()}/${MARK[phase]}`)) await new Promise((resolve) => setTimeout(resolve, 2));
  // SIGINT as a terminal sends it, to the whole process group; SIGTERM to venv alone.
  if (running && child.pid) process.kill(signal === 'SIGINT' ? -child.pid : child.pid, signal);
  const result = await child;
  const label = `${args.join(' ')}, ${signal} while ${phase}: ${result.stderr}`;
  const state = stateOf();
  assert.ok(!existsSync(`${dir()}/.upper-next`), `no half-built tree is left (${label})`);
  if (result.exitCode === 0) {
    assert.equal(state, 'A', label);
    return { changed: true, left: false };
  }
  assert.equal(result.exitCode, 130, label);
  if (/interrupted by SIG\w+; nothing was changed\n/.test(result.stderr)) {
    assert.equal(state, 'B', `"nothing was changed" is true (${label})`);
    assert.ok(!existsSync(`${dir()}/.upper-prev`), label);
    return { changed: false, left: false };
  }
  assert.match(result.stderr, /^venv: error: interrupted by SIG\w+, but the change was made: /, label);
  assert.equal(state, 'A', `"the change was made" is true (${label})`);
  const left = existsSync(`${dir()}/.upper-prev`);
  assert.equal(
    /its old files are still in \S+\/\.upper-prev\nhint: the next "venv diff big"/.test(result.stderr),
    left,
    label,
  );
  if (left) {
    await ok(['diff', ENV]);
    assert.ok(!existsSync(`${dir()}/.upper-prev`), `the next command deleted the old tree (${label})`);
    assert.equal(stateOf(), 'A');
  }
  return { changed: true, left };
}

describe('rollback and restore --force interrupted', { skip: skipReason }, () => {
  before(async () => {
    await e2e.create(ENV);
    writeState('A');
    await ok(['snapshot', ENV, 'a']);
    await ok(['commit', ENV, '-o', `${e2e.home}/a.tar.zst`]);
  });

  for (const [name, args] of [
    ['rollback', ['rollback', ENV, 'a']],
    ['restore --force', ['restore', '--force', '@ARCHIVE', ENV]],
  ] as const) {
    test(`${name}: the message says truthfully whether the change was made; the next command cleans up`, async () => {
      const argv = args.map((arg) => (arg === '@ARCHIVE' ? `${e2e.home}/a.tar.zst` : arg));
      const outcomes: Outcome[] = [];
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const building = await interrupt(argv, 'building', signal);
        const deleting = await interrupt(argv, 'deleting', signal);
        assert.equal(deleting.changed, true, 'the old tree is deleted only once the new one is in place');
        outcomes.push(building, deleting);
      }
      // Else the phases went by too fast to be caught, and the test has tested nothing.
      assert.ok(
        outcomes.some((o) => !o.changed),
        `some interruption came before the change: ${JSON.stringify(outcomes)}`,
      );
      assert.ok(
        outcomes.some((o) => o.left),
        `some interruption cut the deletion short: ${JSON.stringify(outcomes)}`,
      );
    });
  }
});
