// `venv apply`: the env's changes written onto the host, as the unprivileged user, into
// a directory of theirs under /var/tmp (overlaid like the rest of /: /tmp and the home
// are shared with the env, so changes there are on the host already).
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { hasScript, onTerminal } from '../helpers/terminal.js';
import { spawnVenv } from '../helpers/venv-cli.js';

const e2e = e2eSetup('apply');
const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;
const terminalSkip = skipReason || (hasScript ? false : 'needs script(1) (bsdutils)');

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A directory of the test user's on the host, in the env's overlay. */
function hostDir(): string {
  const dir = mkdtempSync('/var/tmp/venv-test-apply-');
  made.push(dir);
  return dir;
}

async function inEnv(name: string, script: string): Promise<void> {
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${script}: ${result.stderr}`);
}

/** Every entry below `dir` with what it is: "path file content", "path -> target", "path/". */
function tree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = join(rel, name);
    const stat = lstatSync(join(dir, path));
    if (stat.isSymbolicLink()) out.push(`${path} -> ${readlinkSync(join(dir, path))}`);
    else if (stat.isDirectory()) out.push(`${path}/`, ...tree(dir, path));
    else out.push(`${path} ${readFileSync(join(dir, path), 'utf8').trim()}`);
  }
  return out;
}

/** Host files for the usual changes, and an env that makes them. */
async function prepared(name: string): Promise<string> {
  const dir = hostDir();
  writeFileSync(`${dir}/changed`, 'old\n');
  writeFileSync(`${dir}/deleted`, 'gone\n');
  writeFileSync(`${dir}/same`, 'same\n');
  mkdirSync(`${dir}/dir`);
  writeFileSync(`${dir}/dir/inner`, 'inner\n');
  await e2e.create(name);
  await inEnv(
    name,
    `cd ${dir} && echo new > changed && rm deleted && rm -r dir && echo file > dir && echo added > added && mkdir -p newdir/sub && echo deep > newdir/sub/f && ln -s /etc/hostname link && chmod 640 changed`,
  );
  return dir;
}

const APPLIED = [
  'added added',
  'changed new',
  'dir file',
  'link -> /etc/hostname',
  'newdir/',
  'newdir/sub/',
  'newdir/sub/f deep',
  'same same',
];

describe('venv apply', { skip: skipReason }, () => {
  test('--dry-run lists the changes and writes nothing; apply writes them all, deletions included', async () => {
    const dir = await prepared('plain');
    const before = tree(dir);
    const dry = await e2e.venv(['apply', '--dry-run', 'plain']);
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      [
        `deleted    ${dir}/deleted`,
        `added      ${dir}/added`,
        `modified   ${dir}/changed`,
        `replaced   ${dir}/dir`,
        `symlink    ${dir}/link`,
        `added dir  ${dir}/newdir`,
        'would apply 6 changes of env "plain" (--dry-run: nothing was written)',
        '',
      ].join('\n'),
    );
    assert.deepEqual(tree(dir), before);

    // No terminal: no question, applied as told.
    const result = await e2e.venv(['apply', 'plain']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /applied 6 changes of env "plain" to the host\n$/);
    assert.deepEqual(tree(dir), APPLIED);
    assert.equal(lstatSync(`${dir}/changed`).mode & 0o7777, 0o640, 'the mode comes along');
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.startsWith('.venv-apply')),
      [],
      'no staged copy or backup is left',
    );
    // The env is left as it is, and applying again has nothing to do.
    const again = await e2e.venv(['apply', 'plain']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(again.stdout, 'env "plain" has nothing to apply\n');
  });

  test('PATHs apply only what is at or below them', async () => {
    const dir = await prepared('some');
    const result = await e2e.venv(['apply', 'some', `${dir}/changed`, `${dir}/newdir/`]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(tree(dir), [
      'changed new',
      'deleted gone',
      'dir/',
      'dir/inner inner',
      'newdir/',
      'newdir/sub/',
      'newdir/sub/f deep',
      'same same',
    ]);
    const inside = await e2e.venv(['apply', 'some', `${dir}/newdir/sub`]);
    assert.equal(inside.exitCode, 0, inside.stderr);
    assert.equal(inside.stdout, 'env "some" has nothing to apply there\n');
    const relative = await e2e.venv(['apply', 'some', 'etc']);
    assert.equal(relative.exitCode, 125);
    assert.match(relative.stderr, ONE_ERROR);
  });

  test('a host file changed after the env took its copy is refused, named, unless --force', async () => {
    const dir = hostDir();
    writeFileSync(`${dir}/both`, 'host 1\n');
    writeFileSync(`${dir}/env-only`, 'host\n');
    await e2e.create('conflict');
    await inEnv('conflict', `echo env >> ${dir}/both; echo env > ${dir}/env-only`);
    await sleep(20);
    writeFileSync(`${dir}/both`, 'host 2\n');
    const refused = await e2e.venv(['apply', '-y', 'conflict']);
    assert.equal(refused.exitCode, 125);
    assert.match(refused.stderr, ONE_ERROR);
    assert.match(refused.stderr, new RegExp(`${dir}/both changed on the host .* after the env took its copy`));
    assert.doesNotMatch(refused.stderr, /env-only/);
    assert.equal(readFileSync(`${dir}/env-only`, 'utf8'), 'host\n', 'nothing was applied');
    // The rest can be applied by PATH; --force overwrites the host's change.
    assert.equal((await e2e.venv(['apply', 'conflict', `${dir}/env-only`])).exitCode, 0);
    assert.equal(readFileSync(`${dir}/env-only`, 'utf8'), 'env\n');
    const forced = await e2e.venv(['apply', '--force', 'conflict']);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(readFileSync(`${dir}/both`, 'utf8'), 'host 1\nenv\n');
    // What apply wrote is not a conflict the next time: the env changes it again, the host does not.
    await inEnv('conflict', `echo more >> ${dir}/env-only`);
    const later = await e2e.venv(['apply', 'conflict']);
    assert.equal(later.exitCode, 0, later.stderr);
    assert.equal(readFileSync(`${dir}/env-only`, 'utf8'), 'env\nmore\n');
  });

  test('what the caller may not write is refused before anything is written, named; set-id bits too', async () => {
    const dir = hostDir();
    writeFileSync(`${dir}/tool`, '#!/bin/sh\n');
    await e2e.create('denied');
    await inEnv('denied', `echo x > /etc/venv-test-apply; echo y > ${dir}/mine; chmod 4755 ${dir}/tool`);
    const result = await e2e.venv(['apply', '-y', 'denied']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, ONE_ERROR);
    assert.match(result.stderr, /\/etc: you may not write it \(added \/etc\/venv-test-apply\)/);
    assert.match(result.stderr, new RegExp(`${dir}/tool \\(set-id bits 4755\\): only root may apply it`));
    assert.equal(existsSync(`${dir}/mine`), false, 'nothing was applied');
    assert.equal(existsSync('/etc/venv-test-apply'), false);
  });

  test('--clear empties what was applied from the env', async () => {
    const dir = hostDir();
    await e2e.create('clear');
    await inEnv('clear', `echo a > ${dir}/a; mkdir ${dir}/d; echo b > ${dir}/d/b; echo c > /etc/venv-test-apply-kept`);
    const result = await e2e.venv(['apply', '--clear', 'clear', dir]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /; removed them from the env\n$/);
    const diff = await e2e.venv(['diff', 'clear']);
    assert.equal(diff.stdout, 'added      /etc/venv-test-apply-kept\n');
    assert.deepEqual(tree(dir), ['a a', 'd/', 'd/b b']);
  });

  test("a stacked env applies its layers' changes too; --clear is refused for it", async () => {
    const dir = hostDir();
    writeFileSync(`${dir}/host`, 'host\n');
    writeFileSync(`${dir}/layer-changed`, 'host\n');
    await e2e.create('base');
    await inEnv('base', `echo base > ${dir}/from-layer; echo layer > ${dir}/layer-changed`);
    assert.equal((await e2e.venv(['create', '--from', 'base', 'top'])).exitCode, 0);
    await inEnv('top', `echo top > ${dir}/from-top; rm ${dir}/host`);
    const clear = await e2e.venv(['apply', '--clear', 'top']);
    assert.equal(clear.exitCode, 125);
    assert.match(clear.stderr, ONE_ERROR);
    const result = await e2e.venv(['apply', 'top', dir]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(
      result.stdout,
      /applied 4 changes of env "top" \(with those of the layer it stands on\) to the host\n$/,
    );
    assert.deepEqual(tree(dir), ['from-layer base', 'from-top top', 'layer-changed layer']);
  });

  test('hostile: the env has a directory where the host has a symlink: replaced, never followed', async () => {
    const dir = hostDir();
    const victim = hostDir();
    symlinkSync(victim, `${dir}/sub`);
    await e2e.create('hostile');
    await inEnv('hostile', `echo before > ${dir}/other`);
    // What a hostile archive (or the env's programs, through a shared VENV_HOME) could put in the upper dir.
    const upperSub = `${e2e.envDir('hostile')}/upper${dir}/sub`;
    mkdirSync(upperSub);
    writeFileSync(`${upperSub}/payload`, 'payload\n');
    const result = await e2e.venv(['apply', '-y', 'hostile']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`replaced   ${dir}/sub\n`));
    assert.deepEqual(readdirSync(victim), [], 'nothing was written through the symlink');
    assert.equal(lstatSync(`${dir}/sub`).isDirectory(), true);
    assert.equal(readFileSync(`${dir}/sub/payload`, 'utf8'), 'payload\n');
  });

  test('hostile: a symlink in the upper dir is applied as a symlink, its target never read', async () => {
    const dir = hostDir();
    const secret = `${hostDir()}/secret`;
    writeFileSync(secret, 'secret\n');
    await e2e.create('links');
    await inEnv('links', `echo x > ${dir}/x`);
    symlinkSync(secret, `${e2e.envDir('links')}/upper${dir}/copy`);
    const result = await e2e.venv(['apply', '-y', 'links']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(readlinkSync(`${dir}/copy`), secret);
  });

  test('SIGTERM while the copies are staged: everything undone, nothing applied, no staged copy left', async () => {
    const dir = hostDir();
    await e2e.create('stopped');
    await inEnv('stopped', `cd ${dir} && for i in $(seq 1 3000); do echo $i > f$i; done`);
    const apply = spawnVenv(e2e.home, ['apply', '-y', 'stopped']);
    // Staged copies appear next to their place: the apply is under way, nothing is in place yet.
    let staging = false;
    for (let tries = 0; tries < 3000 && !staging && apply.exitCode === null; tries++) {
      staging = readdirSync(dir).some((name) => name.startsWith('.venv-apply-'));
      if (!staging) await sleep(5);
    }
    assert.ok(staging, 'the staged copies were seen');
    apply.kill('SIGTERM');
    const result = await apply;
    assert.equal(result.exitCode, 130, String(result.stderr));
    assert.match(String(result.stderr), /^venv: error: interrupted by SIGTERM; nothing was changed\n/);
    assert.deepEqual(readdirSync(dir), [], 'nothing applied, no staged copy left');
    // The env still has it all.
    const dry = await e2e.venv(['apply', '--dry-run', 'stopped']);
    assert.match(dry.stdout, /would apply 3000 changes/);
  });
});

describe('venv apply asks on a terminal', { skip: terminalSkip }, () => {
  test('"n" applies nothing, "y" applies, -y does not ask', async () => {
    const dir = hostDir();
    await e2e.create('asked');
    await inEnv('asked', `echo one > ${dir}/one`);
    const no = onTerminal(e2e.home, ['apply', 'asked'], 'n\n');
    assert.match(no.screen, new RegExp(`added      ${dir}/one`));
    assert.match(no.screen, /apply this change of env "asked" to the host\? \[y\/N\] /);
    assert.match(no.screen, /venv: error: not confirmed: nothing was changed/);
    assert.equal(existsSync(`${dir}/one`), false);
    const yes = onTerminal(e2e.home, ['apply', 'asked'], 'y\n');
    assert.equal(yes.status, 0, yes.screen);
    assert.equal(readFileSync(`${dir}/one`, 'utf8'), 'one\n');
    await inEnv('asked', `echo two > ${dir}/two`);
    const skip = onTerminal(e2e.home, ['apply', '-y', 'asked']);
    assert.equal(skip.status, 0, skip.screen);
    assert.doesNotMatch(skip.screen, /\[y\/N\]/);
    assert.equal(readFileSync(`${dir}/two`, 'utf8'), 'two\n');
  });
});
