// Every kind of change survives `venv commit` then `venv restore` into a second env
// exactly, as seen from inside both envs; the tarball is a proper OCI layer as an
// independent reader (Python's tarfile) sees it; `venv diff` names each change.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { VENV_BIN } from '../helpers/venv-cli.js';
import { hostDirs, hostFiles, manifest, type TarMember, tarMembers } from './archive-helpers.js';

const e2e = e2eSetup('archive-roundtrip');

const [modified, deleted, fileToDir, fileToSymlink] = skipReason ? [] : hostFiles(4);
const [dirDeleted, dirToFile, dirEmptied, dirRefilled] = skipReason ? [] : hostDirs(4);
const TREE = '/opt/venv-tree';

const CHANGES = `set -e
echo added > /etc/venv-added
echo modified >> "${modified}"
rm "${deleted}"
rm -rf "${dirDeleted}"
rm -rf "${dirToFile}"; echo now-a-file > "${dirToFile}"
rm -rf "${dirEmptied}"; mkdir "${dirEmptied}"
rm -rf "${dirRefilled}"; mkdir "${dirRefilled}"; echo fresh > "${dirRefilled}/fresh"
rm "${fileToDir}"; mkdir "${fileToDir}"; echo inner > "${fileToDir}/inner"
rm "${fileToSymlink}"; ln -s /etc/venv-added "${fileToSymlink}"
ln -s venv-added /etc/venv-link
mkdir -p ${TREE}/a/b
echo h > ${TREE}/h1; ln ${TREE}/h1 ${TREE}/h2; ln ${TREE}/h1 ${TREE}/a/h3
mkfifo ${TREE}/fifo
cp /bin/true ${TREE}/suid; chmod 4755 ${TREE}/suid
cp /bin/true ${TREE}/sgid; chmod 2711 ${TREE}/sgid
mkdir ${TREE}/sticky; chmod 1777 ${TREE}/sticky
printf s > "${TREE}/name with spaces"
printf n > "${TREE}/new
line"
ln -s ../../etc/venv-added ${TREE}/rel-link
chmod 700 ${TREE}/a/b
python3 -c 'import os; os.setxattr("${TREE}/h1", "user.venv", b"kept")'
touch -h -d @1600000000 ${TREE}/rel-link ${TREE}/h1
`;

const ROOTS = skipReason
  ? []
  : [
      '/etc/venv-added',
      '/etc/venv-link',
      modified,
      deleted,
      fileToDir,
      fileToSymlink,
      dirDeleted,
      dirToFile,
      dirEmptied,
      dirRefilled,
      TREE,
      'ls:/etc',
      'ls:/usr/share/doc',
    ].map(String);

describe('commit then restore', { skip: skipReason }, () => {
  let tar = '';
  let members: TarMember[] = [];
  before(async () => {
    await e2e.create('a');
    const changed = await e2e.venv(['run', 'a', '--', 'sh', '-c', CHANGES]);
    assert.equal(changed.exitCode, 0, changed.stderr);
    tar = `${e2e.home}/a.tar`;
    const committed = await e2e.venv(['commit', 'a', '-o', tar, '--compress', 'none']);
    assert.equal(committed.exitCode, 0, committed.stderr);
    members = tarMembers(tar);
  });

  test('restoring gives an env that looks exactly the same from inside', async () => {
    const restored = await e2e.venv(['restore', tar, 'b']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    const [inA, inB] = [await manifest(e2e, 'a', ROOTS), await manifest(e2e, 'b', ROOTS)];
    assert.deepEqual(inB, inA);
    // And the changes are there at all (the envs are not both just the host).
    assert.equal(inA[deleted as string], null);
    assert.equal(inA[dirDeleted as string], null);
    assert.deepEqual(inA[dirEmptied as string] && Object.keys(inA).filter((p) => p.startsWith(`${dirEmptied}/`)), []);
    assert.equal((inA[`${TREE}/a/h3`] as { 'hardlink-of': string })['hardlink-of'], `${TREE}/h1`);
    assert.equal((inA[`${TREE}/suid`] as { mode: string }).mode, '0o104755');
    assert.deepEqual((inA[`${TREE}/h1`] as { xattrs: object }).xattrs, {
      'user.venv': Buffer.from('kept').toString('hex'),
    });
  });

  test('the tarball is an OCI layer: relative paths, .wh. files, opaque markers, links, modes', () => {
    const byName = new Map(members.map((m) => [m.name, m]));
    const rel = (path: string) => path.slice(1);
    const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);
    const dir = (path: string) => path.slice(1, path.lastIndexOf('/'));
    for (const m of members) assert.ok(!m.name.startsWith('/') && !m.name.startsWith('./'), m.name);
    for (const gone of [deleted as string, dirDeleted as string]) {
      const whiteout = byName.get(`${dir(gone)}/.wh.${base(gone)}`);
      assert.ok(whiteout, `a whiteout for ${gone}`);
      assert.equal(whiteout.type, '0');
      assert.equal(whiteout.size, 0);
    }
    for (const opaque of [dirEmptied as string, dirRefilled as string]) {
      assert.equal(byName.get(`${rel(opaque)}/.wh..wh..opq`)?.type, '0', `${opaque} is opaque`);
      const at = members.findIndex((m) => m.name === rel(opaque));
      assert.equal(members[at + 1]?.name, `${rel(opaque)}/.wh..wh..opq`, 'the marker follows its directory');
    }
    assert.equal(byName.get(rel(dirToFile as string))?.type, '0');
    assert.equal(byName.get(rel(fileToSymlink as string))?.type, '2');
    assert.equal(byName.get(`${rel(TREE)}/fifo`)?.type, '6');
    assert.equal(byName.get(`${rel(TREE)}/suid`)?.mode, 0o4755);
    assert.equal(byName.get(`${rel(TREE)}/sgid`)?.mode, 0o2711);
    assert.equal(byName.get(`${rel(TREE)}/sticky`)?.mode, 0o1777);
    assert.ok(byName.get(`${rel(TREE)}/new\nline`) && byName.get(`${rel(TREE)}/name with spaces`));
    const links = ['h1', 'h2', 'a/h3'].map((n) => byName.get(`${rel(TREE)}/${n}`));
    assert.equal(links.filter((m) => m?.type === '1').length, 2, 'two of three hardlinks are links to the first');
    const file = links.find((m) => m?.type === '0');
    assert.equal(file?.pax['SCHILY.xattr.user.venv'], 'kept', 'xattrs that matter are kept');
    for (const m of members) {
      for (const key of Object.keys(m.pax)) assert.doesNotMatch(key, /overlay|fuseoverlayfs/, `${m.name}: ${key}`);
      assert.ok(!/^\.wh\.|\/\.wh\.\.opq$/.test(m.name) || m.type === '0', `${m.name} is no device`);
      assert.ok(m.type !== '3' && m.type !== '4', `${m.name} is no device`);
    }
  });

  test('without venv-opaque (tar reads the opaque xattrs) the layer lists the same members', async () => {
    const byTar = `${e2e.home}/a-by-tar.tar`;
    const committed = await e2e.venv(['commit', 'a', '-o', byTar, '--compress', 'none'], {
      env: { VENV_NATIVE_HELPERS: '0' },
    });
    assert.equal(committed.exitCode, 0, committed.stderr);
    assert.deepEqual(
      tarMembers(byTar).map((m) => m.name),
      members.map((m) => m.name),
    );
  });

  test('in each directory the whiteouts come before their siblings', () => {
    const seen = new Map<string, boolean>(); // directory -> a non-whiteout entry was seen
    for (const m of members) {
      const slash = m.name.lastIndexOf('/');
      const [parent, name] = [m.name.slice(0, Math.max(slash, 0)), m.name.slice(slash + 1)];
      if (name.startsWith('.wh.')) assert.ok(!seen.get(parent), `${m.name} after a sibling`);
      else seen.set(parent, true);
    }
  });

  test('committing again gives the same bytes; the sha256 printed is the file', async () => {
    const again = `${e2e.home}/again.tar`;
    assert.equal((await e2e.venv(['commit', 'a', '-o', again, '--compress', 'none'])).exitCode, 0);
    assert.ok(readFileSync(again).equals(readFileSync(tar)));
    const zst = `${e2e.home}/a.tar.zst`;
    const result = await e2e.venv(['commit', 'a', '-o', zst]);
    const sha = createHash('sha256').update(readFileSync(zst)).digest('hex');
    assert.match(result.stdout, new RegExp(`^sha256:${sha}  ${zst} `));
    assert.equal(tarMembers(zst).length, members.length);
  });

  test('readers that stop at the end-of-archive blocks do not break the decompressor feeding them', async () => {
    // The padding after those blocks goes unread (commit-tar-args.ts keeps it small).
    const zst = `${e2e.home}/piped.tar.zst`;
    assert.equal((await e2e.venv(['commit', 'a', '-o', zst])).exitCode, 0);
    const readers = [
      'tar -tf - >/dev/null',
      `python3 -c 'import sys, tarfile; [m for m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|")]'`,
    ];
    for (const reader of readers) {
      const piped = spawnSync('bash', ['-c', `set -o pipefail; zstd -dc "$1" | ${reader}`, 'bash', zst], {
        encoding: 'utf8',
      });
      assert.equal(piped.status, 0, `${reader}: ${piped.stderr}`);
    }
  });

  test('restore reads gzip and zstd from the bytes, whatever the name', async () => {
    const gz = `${e2e.home}/misnamed.tar`;
    assert.equal((await e2e.venv(['commit', 'a', '-o', gz, '--compress', 'gzip'])).exitCode, 0);
    assert.equal(readFileSync(gz).subarray(0, 2).toString('hex'), '1f8b');
    const restored = await e2e.venv(['restore', gz, 'c']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    assert.deepEqual(await manifest(e2e, 'c', ROOTS), await manifest(e2e, 'a', ROOTS));
  });

  test('commit -o - piped into restore - (as over ssh) gives the same env', async () => {
    const piped = spawnSync('sh', ['-c', '"$1" commit a -o - | "$1" restore - d', 'sh', VENV_BIN], {
      env: { ...process.env, VENV_HOME: e2e.home },
      encoding: 'utf8',
    });
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(piped.stderr, /^sha256:[0-9a-f]{64} {2}- /m);
    assert.deepEqual(await manifest(e2e, 'd', ROOTS), await manifest(e2e, 'a', ROOTS));
  });

  test('diff names each change, the same for the restored env', async () => {
    const [a, b] = [await e2e.venv(['diff', '--json', 'a']), await e2e.venv(['diff', '--json', 'b'])];
    assert.equal(a.exitCode, 0, a.stderr);
    const changes = JSON.parse(a.stdout) as { path: string; kind: string; type: string }[];
    assert.deepEqual(JSON.parse(b.stdout), changes);
    const kind = (path: string) => changes.find((c) => c.path === path)?.kind;
    assert.equal(kind('/etc/venv-added'), 'added');
    assert.equal(kind('/etc/venv-link'), 'symlink');
    assert.equal(kind(modified as string), 'modified');
    assert.equal(kind(deleted as string), 'deleted');
    assert.equal(kind(dirDeleted as string), 'deleted');
    assert.equal(kind(dirToFile as string), 'replaced');
    assert.equal(kind(dirEmptied as string), 'replaced');
    assert.equal(kind(fileToDir as string), 'replaced');
    assert.equal(kind(fileToSymlink as string), 'replaced');
    assert.equal(kind(TREE), 'added dir');
    assert.equal(kind(`${TREE}/fifo`), 'fifo');
    const text = await e2e.venv(['diff', 'a']);
    assert.match(text.stdout, /^deleted {4}\S/m);
    assert.match(text.stdout, new RegExp(`^added {6}${TREE}/new\\\\x0aline$`, 'm'));
  });
});

describe("venv's own preparations are no changes", { skip: skipReason }, () => {
  test('a new env diffs empty and commits an empty layer; restoring it prepares the env anew', async () => {
    await e2e.create('fresh');
    const changes = await e2e.venv(['diff', 'fresh']);
    assert.equal(changes.exitCode, 0, changes.stderr);
    assert.equal(changes.stdout, '');
    const file = `${e2e.home}/fresh.tar`;
    assert.equal((await e2e.venv(['commit', 'fresh', '-o', file, '--compress', 'none'])).exitCode, 0);
    assert.deepEqual(tarMembers(file), []);
    assert.equal((await e2e.venv(['restore', file, 'fresh2'])).exitCode, 0);
    assert.equal((await e2e.venv(['diff', 'fresh2'])).stdout, '');
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as {
      name: string;
      changedEntries: number;
    }[];
    assert.equal(listed.find((env) => env.name === 'fresh2')?.changedEntries, 0);
    // What was prepared (for apt and dpkg) is there in the restored env too.
    const prepared = await e2e.venv(['run', 'fresh2', '--', 'cat', '/etc/apt/apt.conf.d/00venv-sandbox']);
    assert.equal(prepared.exitCode, 0, prepared.stderr);
  });
});
