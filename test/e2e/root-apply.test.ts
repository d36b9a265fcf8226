// `venv apply` as real root (an env of real root: the kernel's overlay of / itself, its
// opaque dirs marked with trusted.overlay.opaque): owners, set-id bits, FIFOs and devices
// are applied too. Runs as root (the runner's last phase; CI is root); skips otherwise.
import assert from 'node:assert/strict';
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { e2eSetup } from '../helpers/e2e.js';

const skip = process.getuid?.() === 0 ? false : 'needs real root (npm test run as root runs it last, as CI does)';
const e2e = e2eSetup('rootapply', skip);

async function inEnv(name: string, script: string): Promise<void> {
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${name}: ${script}: ${result.stderr}`);
}

describe('venv apply as real root', { skip }, () => {
  const dir = skip ? '' : mkdtempSync('/var/tmp/venv-test-rootapply-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('owners, set-id bits, a FIFO and a device come along; deletions and a directory made anew too', async () => {
    writeFileSync(`${dir}/owned`, 'before\n');
    writeFileSync(`${dir}/deleted`, 'gone\n');
    mkdirSync(`${dir}/remade`);
    writeFileSync(`${dir}/remade/old`, 'old\n');
    chownSync(`${dir}/remade/old`, 4321, 4321);
    await e2e.create('rapply');
    await inEnv(
      'rapply',
      [
        `cd ${dir}`,
        'echo after > owned && chown 1234:2345 owned',
        'rm deleted',
        'rm -r remade && mkdir remade && echo new > remade/new',
        'printf "#!/bin/sh\\n" > tool && chmod 4755 tool',
        'mkfifo pipe && mknod null c 1 3',
      ].join(' && '),
    );
    const dry = await e2e.venv(['apply', '--dry-run', 'rapply', dir]);
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      [
        `deleted    ${dir}/deleted`,
        `added      ${dir}/null`,
        `modified   ${dir}/owned`,
        `fifo       ${dir}/pipe`,
        `replaced   ${dir}/remade`,
        `added      ${dir}/tool`,
        'would apply 6 changes of env "rapply" (--dry-run: nothing was written)',
        '',
      ].join('\n'),
    );
    const result = await e2e.venv(['apply', '-y', 'rapply', dir]);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['null', 'owned', 'pipe', 'remade', 'tool']);
    const owned = lstatSync(`${dir}/owned`);
    assert.deepEqual([owned.uid, owned.gid, readFileSync(`${dir}/owned`, 'utf8')], [1234, 2345, 'after\n']);
    assert.equal(lstatSync(`${dir}/tool`).mode & 0o7777, 0o4755);
    assert.ok(lstatSync(`${dir}/pipe`).isFIFO());
    const device = lstatSync(`${dir}/null`);
    assert.ok(device.isCharacterDevice());
    assert.equal(device.rdev, lstatSync('/dev/null').rdev);
    assert.deepEqual(readdirSync(`${dir}/remade`), ['new'], "the host's old entry went with the directory");
  });

  test('a conflict is refused, then --force applies; --clear empties the env', async () => {
    writeFileSync(`${dir}/conf`, 'host 1\n');
    await e2e.create('rconflict');
    await inEnv('rconflict', `echo env >> ${dir}/conf`);
    await sleep(20);
    writeFileSync(`${dir}/conf`, 'host 2\n');
    const refused = await e2e.venv(['apply', '-y', 'rconflict', dir]);
    assert.equal(refused.exitCode, 125);
    assert.match(
      refused.stderr,
      new RegExp(`^venv: error: the host changed what env "rconflict" changed: ${dir}/conf`),
    );
    const forced = await e2e.venv(['apply', '-y', '--force', '--clear', 'rconflict', dir]);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(readFileSync(`${dir}/conf`, 'utf8'), 'host 1\nenv\n');
    const diff = await e2e.venv(['diff', 'rconflict']);
    assert.doesNotMatch(diff.stdout, /conf/);
  });
});
