import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatBytes } from '../../src/cli/format-bytes.js';
import { type EnvSummary, formatList, measureTree } from '../../src/commands/list.js';

function env(overrides: Partial<EnvSummary>): EnvSummary {
  return {
    name: 'work',
    created: '2025-01-02T03:04:05.678Z',
    mapping: 'auto',
    backend: 'overlay',
    settings: { net: 'host', share: ['home', 'tmp', 'run'], volumes: [], publish: [], pkgdbSync: 'auto' },
    layers: [],
    base: null,
    changedBytes: 0,
    changedEntries: 0,
    inUse: false,
    processes: [],
    pkgdb: 'host',
    ...overrides,
  };
}

describe('formatBytes', () => {
  test('bytes below 1 KiB are whole', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1), '1 B');
    assert.equal(formatBytes(1023), '1023 B');
  });

  test('larger sizes use binary units with one decimal', () => {
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(1024 * 1024 - 1), '1024.0 KiB');
    assert.equal(formatBytes(1024 * 1024), '1.0 MiB');
    assert.equal(formatBytes(5.25 * 1024 ** 3), '5.3 GiB');
    assert.equal(formatBytes(3 * 1024 ** 5), '3072.0 TiB', 'TiB is the largest unit');
  });
});

describe('formatList', () => {
  test('no envs: says how to make one', () => {
    assert.match(formatList([]), /^no envs yet: create one with "venv create NAME"/);
  });

  test('one row per env under a header, columns aligned', () => {
    const text = formatList([
      env({ name: 'a', changedBytes: 2048, changedEntries: 3 }),
      env({
        name: 'a-longer-name',
        inUse: true,
        pkgdb: 'own',
        backend: 'fuse-overlayfs',
        processes: [
          { pid: 1, command: 'bash' },
          { pid: 2, command: 'make' },
        ],
      }),
    ]);
    const lines = text.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^NAME +CHANGES +ENTRIES +IN USE +PKG DB +BACKEND +CREATED$/);
    assert.match(lines[1] ?? '', /^a +2\.0 KiB +3 +no +host +overlay +2025-01-02 03:04:05$/);
    assert.match(
      lines[2] ?? '',
      /^a-longer-name +0 B +0 +yes \(2 processes\) +own +fuse-overlayfs +2025-01-02 03:04:05$/,
    );
    const column = (line: string | undefined) => line?.indexOf('2025') ?? -1;
    assert.equal(column(lines[1]), column(lines[2]), 'CREATED column aligned');
    for (const line of lines) assert.equal(line, line.trimEnd(), 'no trailing blanks');
  });
});

describe('formatList: host package drift', () => {
  test('names the envs whose copy of the dpkg database the host changed under, and the fix', () => {
    const text = formatList([env({ name: 'a', pkgdb: 'host-changed' }), env({ name: 'b', pkgdb: 'no-base' })]);
    assert.match(text, /^a +.* +own, host changed +overlay +2025/m);
    assert.match(text, /^b +.* +own, no base +overlay +2025/m);
    assert.match(
      text,
      /\n\nhost packages changed since these envs copied the dpkg database: a\nsync them with: venv sync-pkgdb NAME\n$/,
    );
  });
});

describe('measureTree', () => {
  test('adds up file sizes and counts every entry, without following symlinks', async () => {
    const root = mkdtempSync(join(tmpdir(), 'venv-unit-measure-'));
    try {
      mkdirSync(join(root, 'etc/sub'), { recursive: true });
      writeFileSync(join(root, 'etc/a'), 'x'.repeat(100));
      writeFileSync(join(root, 'etc/sub/b'), 'y'.repeat(50));
      symlinkSync('/usr', join(root, 'link'));
      assert.deepEqual(await measureTree(root), { bytes: 150, entries: 5 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a missing tree is empty', async () => {
    assert.deepEqual(await measureTree('/nonexistent/venv-unit'), { bytes: 0, entries: 0 });
  });
});
