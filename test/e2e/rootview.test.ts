// venv-rootview, the read-only FUSE view of / under the kernel-overlay backend, driven
// directly: each test mounts it in a fresh user + mount + pid namespace (as venv's keeper
// does), often with the kernel's overlayfs on top, checks from inside with a small shell
// script, and ends the namespace, which must end the daemon too. Runs as the unprivileged
// test user; skips when the binary was not built (no compiler or no libfuse3-dev).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  lstatSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { hasSubordinateIds } from '../helpers/e2e.js';
import { assertGone } from '../helpers/leftovers.js';
import { makeSharedDir, makeVenvHome, removeVenvHome } from '../helpers/venv-home.js';

const BIN = fileURLToPath(new URL('../../native/venv-rootview', import.meta.url));

function works(file: string, args: string[]): boolean {
  return spawnSync(file, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

function findSkip(): string | false {
  if (!existsSync(BIN)) return `${BIN} was not built (npm run build needs gcc, pkg-config and libfuse3-dev)`;
  if (process.getuid?.() === 0) return 'runs as an unprivileged user (npm test run as root drops to VENV_TEST_USER)';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is not usable by this user (fix: sudo chmod 0666 /dev/fuse)';
  }
  if (!works('unshare', ['--user', '--map-root-user', '--mount', '--pid', '--fork', 'true'])) {
    return 'unprivileged user, mount and pid namespaces are not available';
  }
  return false;
}
const skip = findSkip();

/** Variables and functions of every script: `overlay` stacks the kernel's overlayfs on $V at $M. */
const SETUP = `
V="$T/view" M="$T/merged"
mkdir -p "$V" "$T/upper" "$T/work" "$M"
overlay() { mount -t overlay overlay -o "lowerdir=$V,upperdir=$T/upper,workdir=$T/work,userxattr" "$M"; }
daemon_pid() { for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = venv-rootview ] && echo "\${p#/proc/}"; done; return 0; }
`;
/** Mounts the view at $V, the test dir hidden (as venv hides the env's own dir). */
const MOUNT = '"$RV" --hide "$T" "$V"\n';

interface Options {
  mapAuto?: boolean;
  /** Mount the view before the script (default true). */
  mount?: boolean;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let T = '';

/** Runs `script` (sh -eu) as root of a new user + mount + pid namespace, after SETUP and MOUNT. */
function inNamespace(script: string, options: Options = {}): Run {
  const flags = ['--user', '--map-root-user', ...(options.mapAuto ? ['--map-auto'] : []), '--mount', '--pid', '--fork'];
  const result = spawnSync(
    'unshare',
    [...flags, 'sh', '-euc', SETUP + (options.mount === false ? '' : MOUNT) + script],
    {
      encoding: 'utf8',
      env: { ...process.env, RV: BIN, T },
      timeout: 110_000,
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Like inNamespace, and fails the test unless the script exits 0; returns its stdout lines. */
function check(script: string, options: Options = {}): string[] {
  const result = inNamespace(script, options);
  assert.equal(result.status, 0, `script failed (${result.status}):\n${result.stderr}\n${result.stdout}`);
  return result.stdout.trimEnd().split('\n');
}

/** The largest file the test user can read among a few system directories (a binary or a library). */
function largeHostFile(): string {
  let best = { path: '', size: 0 };
  for (const dir of ['/usr/bin', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        const st = lstatSync(`${dir}/${name}`);
        if (st.isFile() && st.size > best.size) {
          accessSync(`${dir}/${name}`, constants.R_OK);
          best = { path: `${dir}/${name}`, size: st.size };
        }
      } catch {
        // unreadable or gone: not a candidate
      }
    }
  }
  return best.path;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('venv-rootview', { skip }, () => {
  let data = '';
  before(() => {
    // Host files the tests own, outside the hidden test dir: hard links, xattrs, a hidden dir.
    data = makeSharedDir('/tmp', 'rootview-data');
    writeFileSync(`${data}/a`, 'hard link\n');
    linkSync(`${data}/a`, `${data}/b`);
    mkdirSync(`${data}/secret`);
    writeFileSync(`${data}/secret/inside`, 'hidden\n');
    writeFileSync(`${data}/x`, 'xattrs\n');
    const setxattrs = 'import os, sys; [os.setxattr(sys.argv[1], n, b"1") for n in sys.argv[2:]]';
    spawnSync('python3', ['-c', setxattrs, `${data}/x`, 'user.venv-test', 'user.overlay.opaque'], { stdio: 'ignore' });
  });
  after(() => rmSync(data, { recursive: true, force: true }));
  beforeEach(() => {
    T = makeVenvHome('rootview');
  });
  afterEach(async () => {
    // The pid namespace ended with the script: so must the daemon (its command line names T).
    await assertGone(T);
    removeVenvHome(T);
  });

  test('--help and --version exit 0', () => {
    const help = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: venv-rootview \[OPTIONS\] MOUNTPOINT$/m);
    const version = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^venv-rootview \d+\.\d+\.\d+ \(libfuse 3\./);
  });

  test('a bad mount point: one line on stderr and exit 1', () => {
    writeFileSync(`${T}/file`, '');
    for (const [point, why] of [
      [`${T}/missing`, 'No such file or directory'],
      [`${T}/file`, 'Not a directory'],
    ] as const) {
      const result = spawnSync(BIN, [point], { encoding: 'utf8' });
      assert.equal(result.status, 1);
      assert.equal(result.stderr, `venv-rootview: cannot mount ${point}: ${why}\n`);
    }
    // Usage errors: one line too; exit 2 for what getopt refuses.
    const usage = spawnSync(BIN, ['--bogus', T], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    const timeout = spawnSync(BIN, ['--timeout', 'soon', T], { encoding: 'utf8' });
    assert.equal(timeout.status, 1);
    assert.equal(timeout.stderr, 'venv-rootview: --timeout: expected a number of seconds from 0 to 1e9, got "soon"\n');
  });

  test('files show as 0:0 with the host mode, size, inode and content', () => {
    const big = largeHostFile();
    assert.ok(big, 'a large readable host file');
    const files = ['/etc/passwd', '/usr/bin/env', '/usr/share/doc', big];
    const lines = check(`
for f in ${files.join(' ')}; do stat -c '%u:%g %a %s %i %F' "$V$f"; done
sha256sum < "$V${big}" | cut -d' ' -f1
readlink "$V/etc/os-release" || echo not-a-link
stat -f -c %b "$V" >/dev/null
`);
    const expected = files.map((f) => {
      const st = statSync(f);
      const kind = st.isDirectory() ? 'directory' : 'regular file';
      return `0:0 ${(st.mode & 0o7777).toString(8)} ${st.size} ${st.ino} ${kind}`;
    });
    assert.deepEqual(lines.slice(0, files.length), expected);
    assert.equal(lines[files.length], sha256(big), `content of ${big} (${statSync(big).size} bytes)`);
    const link = lstatSync('/etc/os-release').isSymbolicLink() ? readlinkSync('/etc/os-release') : 'not-a-link';
    assert.equal(lines[files.length + 1], link);
  });

  test('large directories list exactly as on the host, twice (offsets across requests, the kernel cache)', () => {
    const dirs = ['/usr/bin', '/usr/share/doc', '/usr/lib/x86_64-linux-gnu', '/etc'].filter((d) => existsSync(d));
    const lines = check(
      dirs
        .map((d) => `ls -A "$V${d}" | LC_ALL=C sort | sha256sum; ls -A "$V${d}" | LC_ALL=C sort | sha256sum`)
        .join('\n'),
    );
    const expected = dirs.flatMap((d) => {
      const names = `${readdirSync(d).sort().join('\n')}\n`;
      const sum = `${createHash('sha256').update(names).digest('hex')}  -`;
      return [sum, sum];
    });
    assert.ok(readdirSync('/usr/bin').length > 500, 'a directory listed in several READDIRPLUS requests');
    assert.deepEqual(lines, expected);
  });

  test('writes on the view itself fail with EROFS', () => {
    const script = `
import errno, os, sys
v = sys.argv[1]
ops = {
  "open O_WRONLY": lambda: os.open(v + "/etc/passwd", os.O_WRONLY),
  "open O_RDWR": lambda: os.open(v + "/etc/passwd", os.O_RDWR),
  "open O_CREAT": lambda: os.open(v + "/etc/venv-new", os.O_CREAT | os.O_WRONLY),
  "truncate": lambda: os.truncate(v + "/etc/passwd", 0),
  "mkdir": lambda: os.mkdir(v + "/etc/venv-dir"),
  "unlink": lambda: os.unlink(v + "/etc/passwd"),
  "rmdir": lambda: os.rmdir(v + "/usr/share/doc"),
  "rename": lambda: os.rename(v + "/etc/passwd", v + "/etc/passwd2"),
  "link": lambda: os.link(v + "/etc/passwd", v + "/etc/passwd2"),
  "symlink": lambda: os.symlink("x", v + "/etc/venv-link"),
  "chmod": lambda: os.chmod(v + "/etc/passwd", 0o777),
  "chown": lambda: os.chown(v + "/etc/passwd", 0, 0),
  "utime": lambda: os.utime(v + "/etc/passwd"),
  "setxattr": lambda: os.setxattr(v + "/etc/passwd", "user.x", b"1"),
}
for name, op in ops.items():
    try:
        op()
        print(name, "succeeded")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
`;
    const lines = check(`python3 -c '${script}' "$V"`);
    assert.equal(lines.length, 14);
    for (const line of lines) assert.match(line, / EROFS$/);
  });

  test('O_NOATIME opens of root-owned files work through the view (not on the host)', () => {
    const lines = check(`
noatime() { python3 -c 'import os, sys
try:
    os.read(os.open(sys.argv[1], os.O_RDONLY | os.O_NOATIME), 1); print("ok")
except OSError as e:
    print(e.strerror)' "$1"; }
noatime /etc/passwd
noatime "$V/etc/passwd"
overlay
noatime "$M/etc/passwd"
`);
    // The control: in the namespace the host's root-owned file belongs to nobody.
    assert.deepEqual(lines, ['Operation not permitted', 'ok', 'ok']);
  });

  test('a file the user cannot read stays unreadable (EACCES)', (t) => {
    try {
      accessSync('/etc/shadow', constants.R_OK);
      return t.skip('/etc/shadow is readable by the test user');
    } catch {
      // as expected
    }
    const lines = check(`stat -c %a "$V/etc/shadow"; cat "$V/etc/shadow" 2>&1 || :`);
    assert.equal(lines[0], (statSync('/etc/shadow').mode & 0o777).toString(8));
    assert.match(lines[1] ?? '', /Permission denied/);
  });

  test('through the overlay: programs run and host files read as on the host', () => {
    const lines = check(`
overlay
chroot "$M" /bin/true && echo chroot-true
"$M/usr/bin/env" true && echo env-true
cat "$M/etc/hostname"
`);
    assert.deepEqual(lines, ['chroot-true', 'env-true', readFileSync('/etc/hostname', 'utf8').trimEnd()]);
  });

  test('appending to /etc/hosts through the overlay copies it up; the host file is unchanged', () => {
    const before = readFileSync('/etc/hosts', 'utf8');
    const line = '192.0.2.1 venv-test';
    const lines = check(`
overlay
echo "${line}" >> "$M/etc/hosts"
tail -n 1 "$M/etc/hosts"
stat -c '%u:%g %s' "$T/upper/etc/hosts"
`);
    assert.equal(lines[0], line);
    assert.equal(lines[1], `0:0 ${Buffer.byteLength(before + line) + 1}`);
    assert.equal(readFileSync('/etc/hosts', 'utf8'), before);
  });

  test('rm of a lower file leaves a 0/0 character device whiteout in the upper dir', () => {
    const lines = check(`
overlay
rm "$M/etc/debian_version"
[ ! -e "$M/etc/debian_version" ] && echo gone
stat -c '%F %t:%T' "$T/upper/etc/debian_version"
`);
    assert.deepEqual(lines, ['gone', 'character special file 0:0']);
    assert.ok(existsSync('/etc/debian_version'));
  });

  test('chown inside the overlay shows (--map-auto)', { skip: !hasSubordinateIds && 'no subordinate ids' }, () => {
    const lines = check(
      `
overlay
chown 1000:1000 "$M/etc/issue"
stat -c %u:%g "$M/etc/issue"
`,
      { mapAuto: true },
    );
    assert.deepEqual(lines, ['1000:1000']);
    assert.equal(statSync('/etc/issue').uid, 0);
  });

  test('an unreadable directory lists as empty, has no entries, and the overlay can add to it', (t) => {
    // /root is 0700 root on Debian: the test user can neither list nor search it.
    try {
      accessSync('/root', constants.R_OK);
      return t.skip('/root is readable by the test user');
    } catch {
      // as expected
    }
    const lines = check(`
python3 -c 'import os
try:
    os.stat("/root/.profile")
except OSError as e:
    print("host:", e.strerror)' 
ls -A "$V/root" | wc -l
python3 -c 'import os, sys
try:
    os.stat(sys.argv[1] + "/root/.profile"); print("found")
except OSError as e:
    print("view:", e.strerror)' "$V"
overlay
mkdir -p "$M/root/.config" && echo new > "$M/root/.config/venv-test"
cat "$M/root/.config/venv-test"
ls -A "$T/upper/root"
`);
    assert.deepEqual(lines, ['host: Permission denied', '0', 'view: No such file or directory', 'new', '.config']);
  });

  test('--hide shows a directory as empty', () => {
    const lines = check(`
mkdir "$T/view2"
"$RV" --hide "${data}/secret" "$T/view2"
ls -A "$T/view2${data}/secret" | wc -l
[ -e "$T/view2${data}/secret/inside" ] || echo no-inside
ls -A "$V${data}/secret"
`);
    assert.deepEqual(lines, ['0', 'no-inside', 'inside']);
  });

  test('the view never shows itself: its own mount point is empty even when not hidden', () => {
    const lines = check(
      `
"$RV" "$V"
ls -A "$V$V" | wc -l
echo $(ls -A "$V$T")
`,
      { mount: false },
    );
    assert.equal(lines[0], '0');
    assert.equal(lines[1], 'merged upper view work');
  });

  test('fds stay bounded: a walk of /usr under ulimit -n 256 sees every entry', () => {
    const lines = check(
      `
mount -t proc proc /proc
ulimit -S -n 256
"$RV" --hide "$T" "$V"
find /usr -xdev 2>/dev/null | wc -l
find "$V/usr" 2>"$T/find-errors" | wc -l
ls /proc/$(daemon_pid)/fd | wc -l
cat "$T/find-errors"
`,
      { mount: false },
    );
    const [host, view, fds] = lines.map(Number);
    assert.equal(lines.length, 3, `find through the view failed: ${lines.slice(3).join('\n')}`);
    assert.ok(host && host > 1000, `host entries: ${lines[0]}`);
    assert.equal(view, host, 'the same number of entries under /usr');
    // 0-2, /dev/fuse, / and a splice pipe per request thread (16 at most): never one per
    // file seen (one O_PATH fd per inode would need 100,000 here and fail at 256).
    assert.ok(fds !== undefined && fds > 0 && fds <= 5 + 2 * 16 + 4, `the daemon's open fds: ${fds}`);
  });

  test('hard links share one inode number; other host filesystems get other numbers', () => {
    let shm = '';
    try {
      shm = mkdtempSync('/dev/shm/venv-test-rootview-');
      writeFileSync(`${shm}/f`, '');
    } catch {
      shm = '';
    }
    try {
      const other = shm ? `${shm}/f` : '/dev/null';
      const lines = check(`stat -c %i "$V${data}/a" "$V${data}/b" "$V${other}" "$V/dev"`);
      const [a, b, onOther, dev] = lines.map(BigInt);
      assert.equal(a, b, 'one inode number for both names');
      if (statSync(data).dev === statSync('/').dev) assert.equal(a, BigInt(statSync(`${data}/a`).ino));
      const hostIno = BigInt(statSync(other).ino);
      assert.notEqual(onOther, hostIno, `${other} is on another filesystem than /: tagged`);
      assert.equal(onOther! & ((1n << 48n) - 1n), hostIno);
      assert.notEqual(dev! >> 48n, 0n, '/dev is a mount of its own');
    } finally {
      if (shm) rmSync(shm, { recursive: true, force: true });
    }
  });

  test('xattrs: none by default (the kernel stops asking); with --xattrs, user.* passes, user.overlay.* and the rest do not', (t) => {
    const listed = spawnSync('python3', ['-c', 'import os,sys; print(os.listxattr(sys.argv[1]))', `${data}/x`], {
      encoding: 'utf8',
    });
    if (!listed.stdout.includes('user.overlay.opaque')) return t.skip('no user xattrs on this filesystem');
    const probe = (view: string) => `python3 -c 'import os, sys
f = sys.argv[1]
try:
    print(sorted(os.listxattr(f)))
except OSError as e:
    print("list", e.strerror)
for name in ("user.venv-test", "user.overlay.opaque", "security.capability", "trusted.overlay.opaque"):
    try:
        print(name, os.getxattr(f, name))
    except OSError as e:
        print(name, e.strerror)' "${view}${data}/x"`;
    // trusted.* is refused before the file system is asked (not root of the first namespace).
    assert.deepEqual(check(probe('$V')), [
      'list Operation not supported',
      'user.venv-test Operation not supported',
      'user.overlay.opaque Operation not supported',
      'security.capability Operation not supported',
      'trusted.overlay.opaque No data available',
    ]);
    const withXattrs = check(`mkdir "$T/vx"\n"$RV" --xattrs --hide "$T" "$T/vx"\n${probe('$T/vx')}`);
    assert.deepEqual(withXattrs, [
      "['user.venv-test']",
      "user.venv-test b'1'",
      'user.overlay.opaque No data available',
      'security.capability No data available',
      'trusted.overlay.opaque No data available',
    ]);
  });

  test('--overlay: one call mounts the view and the kernel overlay on top of it', () => {
    const lines = check(
      `
"$RV" --hide "$T" --mount-timeout 30 --overlay "lowerdir=$M,upperdir=$T/upper,workdir=$T/work,userxattr" "$M"
awk -v m="$M" '$5 == m { print $(NF-2) }' /proc/self/mountinfo
echo changed >> "$M/etc/hostname"
cat "$T/upper/etc/hostname" | tail -n 1
`,
      { mount: false },
    );
    assert.deepEqual(lines, ['fuse.venv-rootview', 'overlay', 'changed']);
    assert.notEqual(readFileSync('/etc/hostname', 'utf8').trimEnd().split('\n').at(-1), 'changed');
  });

  test('--overlay with options the kernel refuses: one line, exit 1', () => {
    const result = inNamespace(`"$RV" --overlay "lowerdir=$M,upperdir=$T/no-such-dir,workdir=$T/work,userxattr" "$M"`, {
      mount: false,
    });
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^venv-rootview: the kernel refused the overlay mount on \S+: No such file or directory\n$/,
    );
  });

  test('--mount-timeout: a mount point that hangs (under a stopped view) ends by SIGALRM, status 142', () => {
    const lines = check(`
mount -t proc proc /proc
pid=$(daemon_pid)
kill -STOP "$pid"
status=0
"$RV" --mount-timeout 1 "$V/tmp" 2>/dev/null || status=$?
kill -CONT "$pid"
echo "$status"
`);
    assert.deepEqual(lines, ['142']);
  });

  test('SIGTERM unmounts the view and ends the daemon', () => {
    const lines = check(`
mount -t proc proc /proc
grep -c " $V " /proc/self/mountinfo
pid=$(daemon_pid)
kill -TERM "$pid"
while [ -e "/proc/$pid" ]; do sleep 0.02; done
grep -c " $V " /proc/self/mountinfo || :
`);
    assert.deepEqual(lines, ['1', '0']);
  });
});
