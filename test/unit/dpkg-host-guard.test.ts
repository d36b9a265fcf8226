// The guard in dpkg's hook (pkgdb-files.ts), run by sh as dpkg runs it, against a fake
// host view in a temporary dir: the status file bound at the env's start, and the live
// directory, where the host's dpkg replaces the file by rename when it changes packages.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dpkgHookConfig } from '../../src/pkg/pkgdb-files.js';

const dir = mkdtempSync(join(tmpdir(), 'venv-guard-'));
const view = { dir: join(dir, 'host-dpkg'), statusAtStart: join(dir, 'status-at-start') };
const guard = (dpkgHookConfig(view).match(/^pre-invoke=(.*)$/m) ?? [])[1] as string;
const runGuard = () => spawnSync('sh', ['-c', guard], { encoding: 'utf8' });

describe("dpkg's guard against host package changes under an open env", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('comes first among the hooks, so that it stops dpkg before anything else runs', () => {
    assert.match(guard, /-ef/);
    assert.doesNotMatch(guard, /dpkg-status\.base/);
  });

  test('lets dpkg run when no view was set up (an env started by an older venv)', () => {
    assert.equal(runGuard().status, 0);
  });

  test('lets dpkg run while the host status is the one the env started with', () => {
    mkdirSync(view.dir);
    writeFileSync(join(view.dir, 'status'), 'Package: a\n');
    linkSync(join(view.dir, 'status'), view.statusAtStart); // the same inode, as the bind gives
    const result = runGuard();
    assert.equal(result.status, 0, result.stderr);
  });

  test('refuses, saying what to do, once the host has replaced its status', () => {
    writeFileSync(join(view.dir, 'status-new'), 'Package: a\n\nPackage: b\n');
    renameSync(join(view.dir, 'status-new'), join(view.dir, 'status'));
    const result = runGuard();
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^venv: the host changed its packages while this env is open/);
    assert.match(result.stderr, /hint: leave every shell of the env and enter it again/);
  });
});
