// An env's settings (net, share, volumes): saved in env.json at create, shown and changed
// by `venv config` only while the env is not in use, listed by `venv list --json`, and
// read back from env.json as hostile input.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('settings');
const ONE_ERROR = /^venv: error: [^\n]+\nhint: [^\n]+\n$/;

function envJson(name: string): { settings?: unknown } & Record<string, unknown> {
  return JSON.parse(readFileSync(`${e2e.envDir(name)}/env.json`, 'utf8')) as { settings?: unknown };
}

describe('env settings', { skip: skipReason }, () => {
  const hostDir = skipReason ? '' : mkdtempSync('/tmp/venv-test-settings-vol-');
  after(() => rmSync(hostDir, { recursive: true, force: true }));

  test('create saves them in env.json; config and list --json show them', async () => {
    const made = await e2e.venv([
      'create',
      '--net',
      'none',
      '--share',
      'home,run',
      '--volume',
      `${hostDir}:/data:ro`,
      '--volume',
      `${hostDir}/:/srv//work/`,
      'configured',
    ]);
    assert.equal(made.exitCode, 0, made.stderr);
    const expected = {
      net: 'none',
      share: ['home', 'run'],
      volumes: [
        { host: hostDir, env: '/data', readOnly: true },
        { host: hostDir, env: '/srv/work', readOnly: false },
      ],
      publish: [],
      pkgdbSync: 'auto',
    };
    assert.deepEqual(envJson('configured').settings, expected);
    const shown = await e2e.venv(['config', 'configured']);
    assert.equal(shown.exitCode, 0, shown.stderr);
    assert.equal(
      shown.stdout,
      `net         none\nshare       home,run\nvolume      ${hostDir}:/data:ro\nvolume      ${hostDir}:/srv/work\npkgdb-sync  auto\n`,
    );
    const json = await e2e.venv(['config', '--json', 'configured']);
    assert.deepEqual(JSON.parse(json.stdout), expected);
    const listed = await e2e.venv(['list', '--json']);
    const entry = (JSON.parse(listed.stdout) as { name: string; settings: unknown }[]).find(
      (env) => env.name === 'configured',
    );
    assert.deepEqual(entry?.settings, expected);
  });

  test('an env made without options has the defaults, and so has one whose env.json has none', async () => {
    await e2e.create('plain');
    const defaults = { net: 'host', share: ['home', 'tmp', 'run'], volumes: [], publish: [], pkgdbSync: 'auto' };
    assert.deepEqual(envJson('plain').settings, defaults);
    // As an env made by an older venv.
    const old = envJson('plain');
    delete old.settings;
    writeFileSync(`${e2e.envDir('plain')}/env.json`, JSON.stringify(old));
    const json = await e2e.venv(['config', '--json', 'plain']);
    assert.deepEqual(JSON.parse(json.stdout), defaults);
    assert.equal((await e2e.venv(['run', 'plain', '--', 'true'], { viaNode: true })).exitCode, 0);
  });

  test('config changes them; volumes are added, replaced by ENV_PATH and removed', async () => {
    await e2e.create('changing');
    let result = await e2e.venv(['config', 'changing', '--net', 'none', '--volume', `${hostDir}:/data`]);
    assert.equal(result.exitCode, 0, result.stderr);
    result = await e2e.venv(['config', 'changing', '--volume', `${hostDir}:/data:ro`, '--share', 'none']);
    assert.equal(
      result.stdout,
      `net         none\nshare       none\nvolume      ${hostDir}:/data:ro\npkgdb-sync  auto\n`,
    );
    result = await e2e.venv([
      'config',
      'changing',
      '--rm-volume',
      '/data',
      '--net',
      'host',
      '--share',
      'all',
      '--pkgdb-sync',
      'manual',
    ]);
    assert.equal(result.stdout, 'net         host\nshare       home,tmp,run\nvolumes     none\npkgdb-sync  manual\n');
    assert.deepEqual(envJson('changing').settings, {
      net: 'host',
      share: ['home', 'tmp', 'run'],
      volumes: [],
      publish: [],
      pkgdbSync: 'manual',
    });
    assert.equal(
      readFileSync(`${e2e.envDir('changing')}/run/settings`, 'utf8'),
      'net\thost\nrun\tshared\npkgdb-sync\tmanual\n',
    );
  });

  test('config refuses to change an env in use, and changes nothing', async () => {
    await e2e.create('busy');
    const before = readFileSync(`${e2e.envDir('busy')}/env.json`, 'utf8');
    const session = spawnVenv(e2e.home, ['run', 'busy', '--', 'sh', '-c', 'echo inside; sleep 30']);
    await waitForOutput(session, 'inside');
    const result = await e2e.venv(['config', 'busy', '--net', 'none']);
    assert.equal(result.exitCode, 125);
    assert.match(result.stderr, /^venv: error: env "busy" is in use/);
    assert.match(result.stderr, ONE_ERROR);
    assert.equal(readFileSync(`${e2e.envDir('busy')}/env.json`, 'utf8'), before);
    // Showing them is fine while it runs.
    const shown = await e2e.venv(['config', 'busy']);
    assert.equal(shown.exitCode, 0, shown.stderr);
    session.kill('SIGTERM');
    await session;
  });

  const BAD: [string, string[], RegExp][] = [
    ['an unknown network mode', ['--net', 'bridge'], /bad --net "bridge"/],
    ['an unknown shared dir', ['--share', 'home,etc'], /unknown directory "etc"/],
    ['a volume without an env path', ['--volume', '/tmp'], /expected HOST_PATH:ENV_PATH/],
    ['a relative host path', ['--volume', 'src:/src'], /host path "src" is not absolute/],
    ['".." in the env path', ['--volume', '/tmp:/a/../etc'], /env path "\/a\/..\/etc"/],
    ['a bad mode', ['--volume', '/tmp:/x:rx'], /expected HOST_PATH:ENV_PATH/],
    ['a volume on /', ['--volume', '/tmp:/'], /\/ cannot be a volume/],
    ['a volume in /proc', ['--volume', '/tmp:/proc/x'], /cannot go into \/proc/],
    ['a volume in /run', ['--volume', '/tmp:/run/x'], /cannot go into \/run/],
    ['a volume in a shared /tmp', ['--volume', '/tmp:/tmp/x'], /\/tmp is the host's in this env/],
    ['a volume in another', ['--volume', '/tmp:/a', '--volume', '/tmp:/a/b'], /inside volume/],
    ['a missing host directory', ['--volume', '/nonexistent-venv-test:/x'], /is not a directory on this machine/],
  ];
  for (const [what, options, message] of BAD) {
    test(`${what} is refused by create and config with one line, and nothing changes`, async () => {
      const made = await e2e.venv(['create', ...options, 'refused']);
      assert.equal(made.exitCode, 125);
      assert.match(made.stderr, message);
      assert.match(made.stderr, ONE_ERROR);
      assert.equal((await e2e.venv(['config', 'refused'])).exitCode, 125, 'no env was made');
      if (!readFileSafe(`${e2e.envDir('target')}/env.json`)) await e2e.create('target');
      const before = readFileSync(`${e2e.envDir('target')}/env.json`, 'utf8');
      const result = await e2e.venv(['config', 'target', ...options]);
      assert.equal(result.exitCode, 125);
      assert.match(result.stderr, message);
      assert.match(result.stderr, ONE_ERROR);
      assert.equal(readFileSync(`${e2e.envDir('target')}/env.json`, 'utf8'), before);
    });
  }

  // env.json is in a directory the env's programs may reach: nothing odd in it is used.
  const HOSTILE: [string, unknown][] = [
    ['not an object', 'all'],
    ['an unknown field', { net: 'host', share: [], volumes: [], privileged: true }],
    ['an unknown network mode', { net: 'bridge', share: [], volumes: [] }],
    ['an unknown shared dir', { net: 'host', share: ['etc'], volumes: [] }],
    ['a volume with ".."', { net: 'host', share: [], volumes: [{ host: '/', env: '/a/../b', readOnly: false }] }],
    ['a volume with a newline', { net: 'host', share: [], volumes: [{ host: '/\nx', env: '/b', readOnly: false }] }],
    ['a volume into /proc', { net: 'host', share: [], volumes: [{ host: '/', env: '/proc/1', readOnly: false }] }],
    ['a volume with a string mode', { net: 'host', share: [], volumes: [{ host: '/', env: '/b', readOnly: 'no' }] }],
  ];
  for (const [what, settings] of HOSTILE) {
    test(`an env.json whose settings hold ${what} is refused as corrupt`, async () => {
      await e2e.create('hostile');
      const meta = { ...envJson('hostile'), settings };
      writeFileSync(`${e2e.envDir('hostile')}/env.json`, JSON.stringify(meta));
      for (const args of [
        ['config', 'hostile'],
        ['run', 'hostile', '--', 'true'],
        ['config', '--net', 'none', 'hostile'],
      ]) {
        const result = await e2e.venv(args, { viaNode: true });
        assert.equal(result.exitCode, 125, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, /env "hostile" has an unreadable/);
        assert.match(result.stderr, ONE_ERROR);
      }
      const removed = await e2e.venv(['rm', '--force', 'hostile']);
      assert.equal(removed.exitCode, 0, removed.stderr);
    });
  }
});

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
