// `venv create NEW --from ENV`: NEW starts as ENV is, ENV's changes become a layer both
// stand on (not a copy), later changes to either never show in the other, NEW's commit
// holds only its own changes, and the layer goes when no env stands on it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';
import { tarMembers } from './archive-helpers.js';

const e2e = e2eSetup('stacked');
const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;
const layers = () => (existsSync(`${e2e.home}/layers`) ? readdirSync(`${e2e.home}/layers`).sort() : []);
const envLayers = (name: string) =>
  (JSON.parse(readFileSync(`${e2e.envDir(name)}/env.json`, 'utf8')) as { layers: string[] }).layers;

async function inEnv(name: string, script: string): Promise<string> {
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', script]);
  assert.equal(result.exitCode, 0, `${name}: ${script}: ${result.stderr}`);
  return result.stdout;
}

describe('stacked envs', { skip: skipReason }, () => {
  const archive = `/tmp/venv-test-stacked-${process.pid}.tar`;
  after(() => rmSync(archive, { force: true }));

  test('NEW starts as ENV is; later changes to either stay their own; both share one layer', async () => {
    await e2e.create('base');
    await inEnv(
      'base',
      'echo base > /etc/venv-stack-base; echo doomed > /etc/venv-stack-doomed; mkdir -p /opt/venv-stack && echo a > /opt/venv-stack/a',
    );
    const made = await e2e.venv(['create', '--from', 'base', 'child']);
    assert.equal(made.exitCode, 0, made.stderr);
    const [layer] = layers();
    assert.ok(layer, 'a layer was made');
    assert.deepEqual(envLayers('base'), [layer]);
    assert.deepEqual(envLayers('child'), [layer]);
    // The layer holds base's changes; both upper dirs start empty.
    assert.equal(readFileSync(`${e2e.home}/layers/${layer}/tree/etc/venv-stack-base`, 'utf8'), 'base\n');
    assert.deepEqual(readdirSync(`${e2e.envDir('child')}/upper`), []);

    assert.equal(
      await inEnv(
        'child',
        'cat /etc/venv-stack-base; rm /etc/venv-stack-doomed; echo child > /etc/venv-stack-child; rm -r /opt/venv-stack; mkdir /opt/venv-stack; echo b > /opt/venv-stack/b; ls /opt/venv-stack',
      ),
      'base\nb\n',
    );
    assert.equal(
      await inEnv(
        'base',
        'cat /etc/venv-stack-doomed; test -e /etc/venv-stack-child || echo no-child; ls /opt/venv-stack; echo later > /etc/venv-stack-later',
      ),
      'doomed\nno-child\na\n',
    );
    assert.equal(
      await inEnv('child', 'test -e /etc/venv-stack-later || echo no-later; ls /etc/venv-stack-doomed 2>&1 || :'),
      "no-later\nls: cannot access '/etc/venv-stack-doomed': No such file or directory\n",
    );
    // Nothing of either reached the host, nor the layer.
    assert.equal(existsSync('/etc/venv-stack-base'), false);
    assert.equal(existsSync(`${e2e.home}/layers/${layer}/tree/etc/venv-stack-later`), false);
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { name: string; layers: string[] }[];
    assert.deepEqual(
      listed.map((env) => [env.name, env.layers]),
      [
        ['base', [layer]],
        ['child', [layer]],
      ],
    );
  });

  test("NEW's commit holds only its own changes, deletions and opaque directories included", async () => {
    if (!existsSync(e2e.envDir('child'))) return; // the test above failed
    const result = await e2e.venv(['commit', 'child', '-o', archive, '--compress', 'none']);
    assert.equal(result.exitCode, 0, result.stderr);
    const names = tarMembers(archive)
      .map((member) => member.name)
      .filter((name) => !name.startsWith('var/') && !name.startsWith('etc/.pwd.lock'));
    assert.deepEqual(names.sort(), [
      'etc',
      'etc/.wh.venv-stack-doomed',
      'etc/venv-stack-child',
      'opt',
      'opt/venv-stack',
      'opt/venv-stack/.wh..wh..opq',
      'opt/venv-stack/b',
    ]);
  });

  test('commit --flatten holds what the layers hold too; restored, it is the stacked env as it was', async () => {
    if (!existsSync(e2e.envDir('child'))) return;
    const result = await e2e.venv(['commit', '--flatten', 'child', '-o', archive, '--compress', 'none']);
    assert.equal(result.exitCode, 0, result.stderr);
    const names = tarMembers(archive)
      .map((member) => member.name)
      .filter(
        (name) => name.startsWith('etc/venv-stack') || name.startsWith('etc/.wh.venv-stack') || name.startsWith('opt'),
      );
    assert.deepEqual(names.sort(), [
      'etc/.wh.venv-stack-doomed',
      'etc/venv-stack-base',
      'etc/venv-stack-child',
      'opt',
      'opt/venv-stack',
      'opt/venv-stack/.wh..wh..opq',
      'opt/venv-stack/b',
    ]);
    // venv's own scaffolding in the base's layer stays out, as in a commit of the base.
    assert.deepEqual(
      tarMembers(archive).filter((member) => member.name === 'var/lib/dpkg/lock'),
      [],
    );
    assert.deepEqual(
      readdirSync(`${e2e.home}/tmp`).filter((name) => name.startsWith('flatten-')),
      [],
    );
    const restored = await e2e.venv(['restore', archive, 'flat']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.equal(
      await inEnv(
        'flat',
        'cat /etc/venv-stack-base /etc/venv-stack-child; ls /opt/venv-stack; test -e /etc/venv-stack-doomed || echo gone',
      ),
      'base\nchild\nb\ngone\n',
    );
    assert.equal((await e2e.venv(['rm', 'flat'])).exitCode, 0);
  });

  test('a stack on a stack sees every layer; removing envs keeps a layer while one stands on it', async () => {
    if (!existsSync(e2e.envDir('child'))) return;
    const made = await e2e.venv(['create', '--from', 'child', 'grandchild']);
    assert.equal(made.exitCode, 0, made.stderr);
    assert.equal(envLayers('grandchild').length, 2);
    assert.equal(await inEnv('grandchild', 'cat /etc/venv-stack-base /etc/venv-stack-child'), 'base\nchild\n');
    assert.equal(layers().length, 2);
    for (const name of ['base', 'child']) assert.equal((await e2e.venv(['rm', name])).exitCode, 0);
    assert.equal(layers().length, 2, 'grandchild stands on both');
    assert.equal(await inEnv('grandchild', 'cat /etc/venv-stack-base'), 'base\n');
    assert.equal((await e2e.venv(['rm', 'grandchild'])).exitCode, 0);
    assert.deepEqual(layers(), [], 'no env stands on them any more');
  });

  test('stacking on an env in use is refused and changes nothing', async () => {
    await e2e.create('busy');
    await inEnv('busy', 'echo x > /etc/venv-stack-busy');
    const session = spawnVenv(e2e.home, ['run', 'busy', '--', 'sh', '-c', 'echo inside; sleep 30']);
    await waitForOutput(session, 'inside');
    const before = layers();
    const result = await e2e.venv(['create', '--from', 'busy', 'onbusy']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /^venv: error: env "busy" is in use/);
    assert.match(result.stderr, ONE_ERROR);
    assert.equal(existsSync(e2e.envDir('onbusy')), false);
    assert.deepEqual(layers(), before);
    assert.deepEqual(envLayers('busy'), []);
    session.kill('SIGTERM');
    await session;
    assert.equal(await inEnv('busy', 'cat /etc/venv-stack-busy'), 'x\n');
  });

  test('a missing env, a stack on itself and another backend are refused with one line', async () => {
    for (const [args, message] of [
      [['create', '--from', 'nothing', 'x'], /no env named "nothing"/],
      [['create', '--from', 'busy', 'busy'], /already exists|on itself/],
      [
        [
          'create',
          '--from',
          'busy',
          '--backend',
          process.env.VENV_BACKEND === 'overlay' ? 'fuse-overlayfs' : 'overlay',
          'x',
        ],
        /a stacked env keeps it/,
      ],
    ] as [string[], RegExp][]) {
      const result = await e2e.venv(args);
      assert.equal(result.exitCode, 125, args.join(' '));
      assert.match(result.stderr, message);
      assert.match(result.stderr, ONE_ERROR);
      assert.equal(existsSync(e2e.envDir('x')), false);
    }
  });

  test('an env.json naming a layer by anything but its id is refused as corrupt', async () => {
    await e2e.create('forged');
    const meta = JSON.parse(readFileSync(`${e2e.envDir('forged')}/env.json`, 'utf8')) as Record<string, unknown>;
    for (const forged of [['../../../etc'], ['0123456789abcdef', '0123456789abcdef'], 'x', [1]]) {
      writeFileSync(`${e2e.envDir('forged')}/env.json`, JSON.stringify({ ...meta, layers: forged }));
      const result = await e2e.venv(['run', 'forged', '--', 'true'], { viaNode: true });
      assert.equal(result.exitCode, 125, JSON.stringify(forged));
      assert.match(result.stderr, /env "forged" has an unreadable/);
    }
    assert.equal((await e2e.venv(['rm', '--force', 'forged'])).exitCode, 0);
  });
});
