// Real root (no user namespace, the kernel's overlayfs of / itself): a read-only volume,
// --net none and --net private (a published port below 1024 included) work there as
// rootless, and so does an env on a base; stacking is refused. Runs as root (the runner's
// last phase; CI is root); skips otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { e2eSetup } from '../helpers/e2e.js';
import { networkHelpers, pollUntilEmpty } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const skip = process.getuid?.() === 0 ? false : 'needs real root (npm test run as root runs it last, as CI does)';
const e2e = e2eSetup('rootset', skip);

async function inEnv(name: string, script: string): Promise<string> {
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${name}: ${script}: ${result.stderr}`);
  return result.stdout;
}

describe('settings and stacking as real root', { skip }, () => {
  const dir = skip ? '' : mkdtempSync('/tmp/venv-test-rootset-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("stacking a real root env is refused (the kernel's overlay of / takes no second lower layer inside it)", async () => {
    await e2e.create('rbase');
    await inEnv('rbase', 'echo base > /etc/venv-root-stack');
    const made = await e2e.venv(['create', '--from', 'rbase', 'rchild']);
    assert.equal(made.exitCode, 125);
    assert.match(
      made.stderr,
      /^venv: error: env "rbase" belongs to real root, whose envs cannot be stacked yet\nhint: /,
    );
    assert.equal(existsSync(e2e.envDir('rchild')), false);
    assert.equal(existsSync(`${e2e.home}/layers`), false);
    assert.equal(await inEnv('rbase', 'cat /etc/venv-root-stack'), 'base\n');
  });

  test("an env of real root on a base: the base's tree under the kernel's overlay, changes in the env only", async () => {
    const rootfs = mkdtempSync('/tmp/venv-test-rootbase-');
    try {
      mkdirSync(`${rootfs}/bin`);
      mkdirSync(`${rootfs}/etc`);
      execFileSync('cp', ['/bin/busybox', `${rootfs}/bin/busybox`]);
      for (const applet of ['sh', 'cat', 'echo', 'ls', 'id']) symlinkSync('busybox', `${rootfs}/bin/${applet}`);
      writeFileSync(`${rootfs}/etc/os-release`, 'ID=tiny\n');
      const made = await e2e.venv(['create', '--base', rootfs, 'ronbase']);
      assert.equal(made.exitCode, 0, made.stderr);
      const id = (JSON.parse(readFileSync(`${e2e.envDir('ronbase')}/env.json`, 'utf8')) as { base: string }).base;
      assert.equal(
        await inEnv('ronbase', 'cat /etc/os-release; echo mine > /etc/venv-root-base; id -u'),
        'ID=tiny\n0\n',
      );
      assert.equal(readFileSync(`${e2e.envDir('ronbase')}/upper/etc/venv-root-base`, 'utf8'), 'mine\n');
      assert.equal(existsSync(`${e2e.home}/bases/${id}/tree/etc/venv-root-base`), false);
      assert.equal(existsSync('/etc/venv-root-base'), false);
      assert.equal((await e2e.venv(['rm', 'ronbase'])).exitCode, 0);
      assert.equal((await e2e.venv(['bases', 'prune'])).stdout, `removed base ${id}\n`);
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
  });

  test('a read-only volume and --net none', async () => {
    writeFileSync(`${dir}/f`, 'kept\n');
    const made = await e2e.venv(['create', '--net', 'none', '--volume', `${dir}:/opt/venv-root-vol:ro`, 'rset']);
    assert.equal(made.exitCode, 0, made.stderr);
    const out = await inEnv(
      'rset',
      'cat /opt/venv-root-vol/f; touch /opt/venv-root-vol/new 2>/dev/null || echo read-only; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "',
    );
    assert.equal(out, 'kept\nread-only\nlo\n');
    assert.deepEqual(readdirSync(dir), ['f']);
    assert.equal(existsSync('/opt/venv-root-vol'), false);
  });

  test('--net private with a port below 1024 published (root may listen there); slirp4netns ends with the env', async () => {
    const made = await e2e.venv(['create', '--net', 'private', '--publish', '127.0.0.1:981:8000', 'rnet']);
    assert.equal(made.exitCode, 0, made.stderr);
    const server = `require('net').createServer((c) => c.end('root env')).listen(8000, () => console.log('listening'))`;
    const session = spawnVenv(e2e.home, ['run', 'rnet', '--', process.execPath, '-e', server]);
    await waitForOutput(session, 'listening');
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      connect(981, '127.0.0.1')
        .setEncoding('utf8')
        .on('data', (chunk: string) => (data += chunk))
        .on('end', () => resolve(data))
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    assert.equal(answer, 'root env');
    assert.equal(await inEnv('rnet', 'grep nameserver /etc/resolv.conf'), 'nameserver 10.0.2.3\n');
    session.kill('SIGTERM');
    await session;
    assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home)), []);
  });
});
