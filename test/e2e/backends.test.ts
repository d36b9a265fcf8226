// The two rootless backends side by side, whatever VENV_BACKEND the run has: which one a
// new env gets, envs made before there was a choice, archives crossing between them both
// ways, and what only the kernel overlay does (ownership shown as set, unlistable host
// directories that can still be added to, at the host's speed).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { e2eSetup, hasSubordinateIds, skipReason } from '../helpers/e2e.js';
import { hostDirs, hostFiles, manifest, tarMembers } from './archive-helpers.js';
import { RUNTIME_LAYOUT } from '../../src/store/env-store.js';

const e2e = e2eSetup('backends');
const viewBuilt = existsSync(new URL('../../native/venv-rootview', import.meta.url));
const noView = !viewBuilt && 'venv-rootview was not built (npm run build without libfuse3-dev)';

async function create(name: string, backend: string): Promise<void> {
  const result = await e2e.venv(['create', '--backend', backend, name]);
  assert.equal(result.exitCode, 0, result.stderr);
}

/** The filesystem type of / as a program in the env sees it. */
async function rootType(name: string): Promise<string> {
  const result = await e2e.venv(['run', name, '--', 'sh', '-c', 'stat -f -c %T /']);
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout.trim();
}

function backendOf(name: string): unknown {
  return (JSON.parse(readFileSync(`${e2e.envDir(name)}/env.json`, 'utf8')) as { backend?: unknown }).backend;
}

describe('backends', { skip: skipReason }, () => {
  test(
    'a new env gets the kernel overlay where venv-rootview was built; --backend chooses',
    { skip: noView },
    async () => {
      const made = await e2e.venv(['create', 'fast'], { env: { VENV_BACKEND: undefined } });
      assert.equal(made.exitCode, 0, made.stderr);
      assert.equal(backendOf('fast'), 'overlay');
      assert.equal(await rootType('fast'), 'overlayfs');
      await create('slow', 'fuse-overlayfs');
      assert.equal(await rootType('slow'), 'fuseblk');
      const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { name: string; backend: string }[];
      assert.deepEqual(
        listed.filter((env) => ['fast', 'slow'].includes(env.name)).map((env) => [env.name, env.backend]),
        [
          ['fast', 'overlay'],
          ['slow', 'fuse-overlayfs'],
        ],
      );
      const doctor = await e2e.venv(['doctor'], { env: { VENV_BACKEND: undefined } });
      assert.match(doctor.stdout, /^ok +overlay backend: /m);
      assert.match(doctor.stdout, /^backend of new envs: overlay \(/m);
    },
  );

  test('an unknown backend is refused in one line, and nothing is made', async () => {
    const result = await e2e.venv(['create', '--backend', 'zfs', 'nope']);
    assert.equal(result.exitCode, 125);
    assert.match(
      result.stderr,
      /^venv: error: unknown backend "zfs"\nhint: the backends are "overlay" and "fuse-overlayfs"/,
    );
    assert.equal(existsSync(e2e.envDir('nope')), false);
  });

  test('an env made before there was a choice keeps fuse-overlayfs, and its runtime files are written anew', async () => {
    await create('legacy', 'fuse-overlayfs');
    // What venv 0.1 wrote: no backend in env.json, run/mapping "MAPPING 2".
    const metaFile = `${e2e.envDir('legacy')}/env.json`;
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
    delete meta.backend;
    writeFileSync(metaFile, JSON.stringify(meta));
    const mapping = `${e2e.envDir('legacy')}/run/mapping`;
    writeFileSync(mapping, `${readFileSync(mapping, 'utf8').split(' ')[0]} 2\n`);
    const result = await e2e.venv(['run', 'legacy', '--', 'sh', '-c', 'echo kept > /etc/venv-legacy; stat -f -c %T /']);
    assert.equal(result.stdout, 'fuseblk\n', result.stderr);
    assert.match(readFileSync(mapping, 'utf8'), new RegExp(`^\\w+ ${RUNTIME_LAYOUT} fuse-overlayfs\n$`));
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { name: string; backend: string }[];
    assert.equal(listed.find((env) => env.name === 'legacy')?.backend, 'fuse-overlayfs');
  });

  test('archives cross between the backends both ways, every kind of change intact', { skip: noView }, async () => {
    const [modified, deleted] = hostFiles(2);
    const [emptied, refilled] = hostDirs(2);
    const changes = `set -e
echo added > /etc/venv-added
echo modified >> "${modified}"
rm "${deleted}"
rm -rf "${emptied}"; mkdir "${emptied}"
rm -rf "${refilled}"; mkdir "${refilled}"; echo fresh > "${refilled}/fresh"
mkdir -p /opt/t; echo h > /opt/t/h1; ln /opt/t/h1 /opt/t/h2; chmod 4755 /opt/t/h1
python3 -c 'import os; os.setxattr("/opt/t/h1", "user.venv", b"kept")'`;
    const roots = ['/etc/venv-added', modified, deleted, emptied, refilled, '/opt/t', 'ls:/etc'] as string[];
    for (const [from, to] of [
      ['overlay', 'fuse-overlayfs'],
      ['fuse-overlayfs', 'overlay'],
    ] as const) {
      const source = `from-${from}`;
      const target = `to-${to}`;
      await create(source, from);
      const changed = await e2e.venv(['run', source, '--', 'sh', '-c', changes]);
      assert.equal(changed.exitCode, 0, changed.stderr);
      const file = `${e2e.home}/${source}.tar.zst`;
      const committed = await e2e.venv(['commit', source, '-o', file]);
      assert.equal(committed.exitCode, 0, committed.stderr);
      for (const member of tarMembers(file)) {
        for (const key of Object.keys(member.pax)) assert.doesNotMatch(key, /overlay|fuseoverlayfs/, member.name);
      }
      const restored = await e2e.venv(['restore', '--backend', to, file, target]);
      assert.equal(restored.exitCode, 0, restored.stderr);
      assert.equal(backendOf(target), to);
      const inSource = await manifest(e2e, source, roots);
      assert.deepEqual(await manifest(e2e, target, roots), inSource, `${from} -> ${to}`);
      assert.equal(inSource[deleted as string], null, 'the deletion is there at all');
      assert.deepEqual(inSource[`ls:${emptied}`] ?? [], [], 'and the emptied dir is empty');
      rmSync(file);
    }
  });
});

describe('the kernel overlay backend', { skip: skipReason || noView }, () => {
  test(
    'ownership set inside shows, and the new owner can write there',
    { skip: !hasSubordinateIds && 'needs subordinate ids' },
    async () => {
      await create('owners', 'overlay');
      const script = `set -e
useradd -M -u 1500 venvbob
mkdir /opt/x; chown venvbob /opt/x
stat -c '%U %u' /opt/x /etc/hostname
su venvbob -s /bin/sh -c 'touch /opt/x/f'
stat -c '%U' /opt/x/f`;
      const result = await e2e.venv(['run', 'owners', '--', 'sh', '-c', script]);
      assert.equal(result.stdout, 'venvbob 1500\nroot 0\nvenvbob\n', result.stderr);
    },
  );

  test('a host directory this user cannot list shows as empty, and files can be added to it', async () => {
    // /root is 0700 root's on Debian: like /usr/share/polkit-1/rules.d, which apt upgrades add to.
    assert.throws(() => readdirSync('/root'), 'the test user cannot list /root on the host');
    await create('unlistable', 'overlay');
    const result = await e2e.venv([
      'run',
      'unlistable',
      '--',
      'sh',
      '-c',
      'ls -A /root; echo x > /root/venv-added; ls /root',
    ]);
    assert.equal(result.stdout, 'venv-added\n', result.stderr);
    assert.equal(existsSync(`${e2e.envDir('unlistable')}/upper/root/venv-added`), true);
  });
});
