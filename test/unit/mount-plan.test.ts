import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bindsFstab, fstabEscape, OWN_DIRS, readOnlyMountsFor, SHARED_DIRS } from '../../src/runtime/mount-plan.js';

/** What mount(8) does to an fstab field: octal escapes back to characters. */
function fstabUnescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

describe('fstab escaping', () => {
  test('blanks, newlines and backslashes become octal escapes', () => {
    assert.equal(fstabEscape('/a b'), '/a\\040b');
    assert.equal(fstabEscape('/a\tb'), '/a\\011b');
    assert.equal(fstabEscape('/a\nb'), '/a\\012b');
    assert.equal(fstabEscape('/a\\b'), '/a\\134b');
    assert.equal(fstabEscape('/plain/path-1.2_x'), '/plain/path-1.2_x');
  });

  test('an escaped path has no blank and reads back as itself', () => {
    for (const path of ['/home/a b/c', '/x\\040y', '/t\t/n\n/ \\ ', '/ü/日本']) {
      const escaped = fstabEscape(path);
      assert.doesNotMatch(escaped, /\s/);
      assert.equal(fstabUnescape(escaped), path);
    }
  });
});

describe('the binds of an env', () => {
  test("binds every shared dir onto the merged tree, in order, then the caller's home, and gives /run a tmpfs", () => {
    const fstab = bindsFstab('/h/envs/e/merged', () => true, [], '/home/ann');
    const lines = fstab.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(lines, [
      ...['/sys', '/dev', '/tmp'].map((dir) => `${dir} /h/envs/e/merged${dir} none rbind 0 0`),
      '/home/ann /h/envs/e/merged/home/ann none rbind 0 0',
      'tmpfs /h/envs/e/merged/run tmpfs mode=755,nosuid,nodev 0 0',
    ]);
    assert.deepEqual([...SHARED_DIRS], ['/sys', '/dev', '/tmp']);
    assert.deepEqual([...OWN_DIRS], ['/proc', '/home', '/run']);
  });

  test('binds neither /proc nor /home whole: the env has its own', () => {
    const fstab = bindsFstab('/m', () => true, [], '/home/ann');
    assert.doesNotMatch(fstab, /^\/proc |^\/home /m);
  });

  test("shares the caller's home only when it is a directory under /home", () => {
    const count = (fstab: string) => fstab.split('\n').filter(Boolean).length;
    assert.equal(count(bindsFstab('/m', () => true, [], '/home/ann')), SHARED_DIRS.length + 2);
    for (const home of ['/root', '/var/lib/svc', '/home', '/home/', '/home/../etc', '/homes/ann'])
      assert.equal(count(bindsFstab('/m', () => true, [], home)), SHARED_DIRS.length + 1, home);
    assert.doesNotMatch(
      bindsFstab('/m', (p) => p !== '/home/ann', [], '/home/ann'),
      /ann/,
    );
    assert.match(
      bindsFstab('/m', () => true, [], '/home/a b'),
      /^\/home\/a\\040b \/m\/home\/a\\040b none rbind/m,
    );
  });

  test('skips shared dirs the host does not have', () => {
    const fstab = bindsFstab('/m', (dir) => dir !== '/dev');
    assert.doesNotMatch(fstab, /^\/dev /m);
    assert.equal(fstab.split('\n').filter(Boolean).length, SHARED_DIRS.length);
  });

  test('escapes a merged path with blanks so that each line keeps six fields', () => {
    const fstab = bindsFstab('/home/a user/.local/share/venv/envs/e/merged', () => true);
    for (const line of fstab.split('\n').filter(Boolean)) {
      const fields = line.split(' ');
      assert.equal(fields.length, 6, line);
      assert.ok(fstabUnescape(fields[1] ?? '').startsWith('/home/a user/.local/share/venv/envs/e/merged/'));
    }
  });

  test('never binds a host path onto itself or outside the merged tree', () => {
    const merged = '/v/envs/e/merged';
    for (const line of bindsFstab(merged, () => true)
      .split('\n')
      .filter(Boolean)) {
      const [source, target, type, options] = line.split(' ');
      if (type === 'tmpfs') {
        assert.equal(target, `${merged}/run`);
        continue;
      }
      assert.equal(type, 'none');
      assert.equal(options, 'rbind');
      assert.equal(target, `${merged}${source}`);
    }
  });
});

/** A /proc/self/mountinfo line for a mount point (the other fields do not matter here). */
function mountinfoLine(id: number, point: string): string {
  return `${id} 1 0:${id} / ${point} rw,relatime shared:${id} - ext4 /dev/sda${id} rw`;
}

describe("read-only binds of the host's other mounts (real root)", () => {
  const mountinfo = [
    '/',
    '/proc',
    '/proc/sys/fs/binfmt_misc',
    '/sys',
    '/sys/fs/cgroup',
    '/dev',
    '/dev/pts',
    '/home',
    '/home/alice/usb',
    '/tmp',
    '/run',
    '/run/user/1000',
    '/boot',
    '/boot/efi',
    '/mnt/data\\040disk',
    '/srv/store',
    '/srv/store/venv/envs/e/merged',
    '/opt',
    '/optimal',
  ]
    .map((point, i) => mountinfoLine(i + 20, point))
    .join('\n');

  test('the outermost mounts outside the shared dirs and the env, unescaped and sorted', () => {
    assert.deepEqual(readOnlyMountsFor(`${mountinfo}\n`, '/srv/store/venv/envs/e'), [
      '/boot',
      '/mnt/data disk',
      '/opt',
      '/optimal',
    ]);
  });

  test('a mount seen twice is bound once', () => {
    const twice = `${mountinfoLine(1, '/boot')}\n${mountinfoLine(2, '/boot')}\n`;
    assert.deepEqual(readOnlyMountsFor(twice, '/var/lib/venv/envs/e'), ['/boot']);
  });

  test('they follow the shared dirs in the fstab, bound read-only', () => {
    const fstab = bindsFstab('/m', () => true, ['/boot', '/mnt/data disk']);
    const lines = fstab.split('\n').filter(Boolean);
    assert.equal(lines.length, SHARED_DIRS.length + 1 + 2);
    assert.deepEqual(lines.slice(-2), [
      '/boot /m/boot none rbind,ro 0 0',
      '/mnt/data\\040disk /m/mnt/data\\040disk none rbind,ro 0 0',
    ]);
  });
});
