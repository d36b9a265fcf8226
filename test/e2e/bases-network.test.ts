// Opt-in, with the network (VENV_TEST_NETWORK=1): another Debian release as a base, and
// apt-get install inside it. The root file system is made by mmdebstrap in its unshare
// mode, debootstrap's way for a user without root (the tests run as one); a tarball made
// by `sudo debootstrap` can be given instead in VENV_TEST_BASE_TARBALL. Skipped otherwise
// (CI has no network but Debian's mirror, and this downloads some 50 MB).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { e2eSetup, hasSubordinateIds, skipReason } from '../helpers/e2e.js';

const RELEASE = process.env.VENV_TEST_BASE_RELEASE ?? 'bullseye';
const MIRROR = process.env.VENV_TEST_BASE_MIRROR ?? 'http://deb.debian.org/debian';
const given = process.env.VENV_TEST_BASE_TARBALL;
const hasMmdebstrap = spawnSync('mmdebstrap', ['--version']).status === 0;
const skip =
  skipReason ||
  (process.env.VENV_TEST_NETWORK !== '1'
    ? 'needs the network: set VENV_TEST_NETWORK=1'
    : !hasSubordinateIds
      ? 'needs a subordinate id range (apt and dpkg own files as other ids)'
      : !given && !hasMmdebstrap
        ? 'needs mmdebstrap (apt-get install mmdebstrap) or VENV_TEST_BASE_TARBALL'
        : false);
const e2e = e2eSetup('bases-net', skip);

describe(`another Debian release (${RELEASE}) as a base`, { skip }, () => {
  const dir = skip ? '' : mkdtempSync('/tmp/venv-test-bases-net-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(
    'debootstrap it, make an env on it, apt-get install inside; the base stays as it was',
    { timeout: 900_000 },
    async () => {
      const tarball = given ?? join(dir, `${RELEASE}.tar.zst`);
      if (!given) {
        execFileSync('mmdebstrap', ['--mode=unshare', '--variant=minbase', RELEASE, tarball, MIRROR], {
          stdio: ['ignore', 'ignore', 'inherit'],
          timeout: 600_000,
        });
      }
      const made = await e2e.venv(['create', '--base', tarball, 'release'], { timeoutMs: 300_000 });
      assert.equal(made.exitCode, 0, made.stderr);
      const run = async (script: string) => {
        const result = await e2e.venv(['run', 'release', '--', 'sh', '-c', script], { timeoutMs: 600_000 });
        assert.equal(result.exitCode, 0, `${script}: ${result.stderr}`);
        return result.stdout;
      };
      assert.match(await run('. /etc/os-release; echo "$VERSION_CODENAME"'), new RegExp(`^${RELEASE}\\n$`));
      // Names resolve with the host's resolv.conf (bound over the base's).
      await run('apt-get update -q >/dev/null');
      await run('DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends hello >/dev/null');
      assert.equal(await run('hello'), 'Hello, world!\n');
      const [base] = JSON.parse((await e2e.venv(['bases', '--json'])).stdout) as { id: string }[];
      assert.ok(base);
      assert.equal(existsSync(`${e2e.home}/bases/${base.id}/tree/usr/bin/hello`), false, 'the base is unchanged');
      assert.equal((await e2e.venv(['rm', 'release'])).exitCode, 0);
    },
  );
});
