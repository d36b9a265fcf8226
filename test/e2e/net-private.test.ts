// --net private: the env has a network namespace of its own that slirp4netns connects to
// the host's network. Published ports answer on the host; the env's other listeners are
// not on the host; the env reaches the host's network but not the host's 127.0.0.1; its
// /etc/resolv.conf names slirp4netns's DNS; slirp4netns ends with the env on every way out.
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { networkHelpers, pollUntilEmpty, processesRunning } from '../helpers/leftovers.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

function privateNetSkipReason(): string | false {
  if (skipReason) return skipReason;
  try {
    execFileSync('slirp4netns', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'slirp4netns is not installed (apt-get install slirp4netns)';
  }
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is not usable by this user (fix: sudo chmod 0666 /dev/net/tun)';
  }
  return false;
}
const skip = privateNetSkipReason();
const e2e = e2eSetup('netpriv', skip);

/** A TCP port free on the host's 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** What a TCP connection from the host gets: the first data, or the error's code. */
function fetchFrom(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

/** The host's first IPv4 address that is not loopback: what the env reaches the host's network by. */
function hostAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces()))
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  return undefined;
}

// Run by node inside the env: a TCP server on each port given (answering "env:PORT", on
// all of the env's addresses), then "listening".
const SERVERS = `const net = require('net');
const ports = process.argv.slice(1).map(Number);
let left = ports.length;
const up = () => { if (--left === 0) console.log('listening'); };
for (const port of ports) net.createServer((c) => c.end('env:' + port)).listen(port, '0.0.0.0', up);`;

// Run by node inside the env: connects to each HOST:PORT given and prints what it got.
const CLIENT = `const net = require('net');
const next = (targets) => {
  if (targets.length === 0) return;
  const [host, port] = targets[0].split(':');
  const s = net.connect(+port, host);
  let data = '';
  const done = (what) => { console.log(targets[0] + ' ' + what); s.destroy(); next(targets.slice(1)); };
  s.setTimeout(5000, () => done('ETIMEDOUT'));
  s.on('data', (d) => (data += d)).on('end', () => done(data)).on('error', (e) => done(e.code));
};
next(process.argv.slice(1));`;

describe('--net private', { skip }, () => {
  let server: Server;
  let loopbackServer: Server;
  let port = 0;
  let loopbackPort = 0;
  const address = hostAddress();
  before(async () => {
    // A listener on the host's network address, and one on its loopback only.
    server = createServer((socket) => socket.end('host network')).listen(0, address ?? '127.0.0.1');
    loopbackServer = createServer((socket) => socket.end('host loopback')).listen(0, '127.0.0.1');
    await Promise.all([once(server, 'listening'), once(loopbackServer, 'listening')]);
    port = (server.address() as { port: number }).port;
    loopbackPort = (loopbackServer.address() as { port: number }).port;
  });
  after(() => {
    server.close();
    loopbackServer.close();
  });

  test("a published port answers on the host; the env's other listeners are not on the host", async () => {
    const [hostPort, envPort, unpublished] = [await freePort(), await freePort(), await freePort()];
    const made = await e2e.venv(['create', '--net', 'private', '--publish', `${hostPort}:${envPort}`, 'web']);
    assert.equal(made.exitCode, 0, made.stderr);
    const session = spawnVenv(e2e.home, [
      'run',
      'web',
      '--',
      process.execPath,
      '-e',
      SERVERS,
      String(envPort),
      String(unpublished),
    ]);
    await waitForOutput(session, 'listening');
    assert.equal(await fetchFrom('127.0.0.1', hostPort), `env:${envPort}`);
    // Listening on the env's addresses is not listening on the host's.
    assert.equal(await fetchFrom('127.0.0.1', unpublished), 'ECONNREFUSED');
    assert.equal(await fetchFrom('127.0.0.1', envPort), 'ECONNREFUSED');
    // Published on 127.0.0.1 only, unless an address is given.
    if (address) assert.equal(await fetchFrom(address, hostPort), 'ECONNREFUSED');
    assert.notDeepEqual(networkHelpers(e2e.home), [], 'slirp4netns runs while the env does');
    const list = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as {
      name: string;
      processes: { command: string }[];
    }[];
    const web = list.find((env) => env.name === 'web');
    assert.ok(
      web && web.processes.length > 0 && web.processes.every((p) => !p.command.startsWith('slirp4netns')),
      'venv list leaves slirp4netns out of the processes',
    );
    session.kill('SIGTERM');
    await session;
    assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home)), [], 'slirp4netns ended with the env');
  });

  test("the env reaches the host's network but not the host's 127.0.0.1 (--disable-host-loopback)", async () => {
    await e2e.venv(['create', '--net', 'private', 'out']);
    const targets = [`10.0.2.2:${loopbackPort}`, `127.0.0.1:${loopbackPort}`];
    if (address) targets.unshift(`${address}:${port}`);
    const result = await e2e.venv(['run', 'out', '--', process.execPath, '-e', CLIENT, ...targets]);
    assert.equal(result.exitCode, 0, result.stderr);
    // slirp4netns answers for the gateway's blocked loopback with "unreachable".
    const expected = [`10.0.2.2:${loopbackPort} ENETUNREACH`, `127.0.0.1:${loopbackPort} ECONNREFUSED`];
    if (address) expected.unshift(`${address}:${port} host network`);
    assert.equal(result.stdout, `${expected.join('\n')}\n`);
    // Entered through nsenter (no venv-enter), as a second session: in the same namespace.
    const links = await e2e.venv(['run', 'out', '--', 'cat', '/proc/net/dev'], { env: { VENV_NATIVE_HELPERS: '0' } });
    assert.deepEqual(
      links.stdout
        .split('\n')
        .slice(2)
        .filter(Boolean)
        .map((line) => line.trim().split(':')[0])
        .sort(),
      ['lo', 'tap0'],
    );
  });

  test("/etc/resolv.conf in the env names slirp4netns's DNS; the host's file and the env's changes are untouched", async () => {
    const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    await e2e.venv(['create', '--net', 'private', 'dns']);
    const inside = await e2e.venv(['run', 'dns', '--', 'cat', '/etc/resolv.conf']);
    assert.match(inside.stdout, /^nameserver 10\.0\.2\.3$/m, inside.stderr);
    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv);
    assert.equal((await e2e.venv(['diff', 'dns'])).stdout, '');
    // A resolv.conf that points into /run (systemd-resolved's way) gets the file it points to.
    assert.equal((await e2e.venv(['config', 'dns', '--net', 'host'])).exitCode, 0);
    const linked = await e2e.venv([
      'run',
      'dns',
      '--',
      'ln',
      '-sf',
      '/run/systemd/resolve/stub-resolv.conf',
      '/etc/resolv.conf',
    ]);
    assert.equal(linked.exitCode, 0, linked.stderr);
    assert.equal((await e2e.venv(['config', 'dns', '--net', 'private'])).exitCode, 0);
    const followed = await e2e.venv([
      'run',
      'dns',
      '--',
      'sh',
      '-c',
      'readlink /etc/resolv.conf; cat /etc/resolv.conf',
    ]);
    assert.match(followed.stdout, /^\/run\/systemd\/resolve\/stub-resolv.conf\n(.*\n)*nameserver 10\.0\.2\.3\n$/);
  });

  test("an env's /etc/resolv.conf symlinked out of /run is not written through (the keeper writes as you, outside the env)", async () => {
    const victim = `/tmp/venv-netpriv-resolv-${process.pid}`;
    await e2e.venv(['create', 'dns-link']);
    const linked = await e2e.venv(['run', 'dns-link', '--', 'ln', '-sf', victim, '/etc/resolv.conf']);
    assert.equal(linked.exitCode, 0, linked.stderr);
    assert.equal((await e2e.venv(['config', 'dns-link', '--net', 'private'])).exitCode, 0);
    const out = await e2e.venv(['run', 'dns-link', '--', 'sh', '-c', 'cat /etc/resolv.conf || echo absent']);
    assert.equal(out.stdout, 'absent\n', out.stderr);
    assert.throws(() => readFileSync(victim), /ENOENT/);
    // A /run path with ".." that climbs out of merged/ (into the env dir) is refused the same way.
    assert.equal((await e2e.venv(['config', 'dns-link', '--net', 'host'])).exitCode, 0);
    await e2e.venv(['run', 'dns-link', '--', 'ln', '-sf', '/run/../../resolv-written', '/etc/resolv.conf']);
    assert.equal((await e2e.venv(['config', 'dns-link', '--net', 'private'])).exitCode, 0);
    assert.equal((await e2e.venv(['run', 'dns-link', '--', 'true'])).exitCode, 0);
    assert.equal(existsSync(`${e2e.envDir('dns-link')}/resolv-written`), false);
  });

  test('slirp4netns ends with the env: kill -9 of the last session, Ctrl-C, rm --force', async () => {
    await e2e.venv(['create', '--net', 'private', 'ends']);
    const sleeper = ['run', 'ends', '--', 'sh', '-c', 'echo inside; sleep 60'];
    // kill -9 of venv (the session): the anchor ends the env once its users lock is free.
    const killed = spawnVenv(e2e.home, sleeper);
    await waitForOutput(killed, 'inside');
    assert.equal(networkHelpers(e2e.home).length, 1);
    killed.kill('SIGKILL');
    await killed;
    assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home), 5_000), [], 'after kill -9');
    // Ctrl-C: SIGINT to the whole process group; the command dies, the session leaves.
    // Sent once sleep runs: sh -c defers a SIGINT that comes before it started its child
    // until that child ends (and sleep, started after it, never gets one).
    const interrupted = spawnVenv(e2e.home, ['run', 'ends', '--', 'sh', '-c', 'echo inside; sleep 61'], {
      detached: true,
    });
    await waitForOutput(interrupted, 'inside');
    await pollUntilEmpty(() => (processesRunning('sleep 61').length > 0 ? [] : ['no sleep yet']), 10_000);
    process.kill(-(interrupted.pid ?? 0), 'SIGINT');
    assert.equal((await interrupted).exitCode, 130);
    assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home), 5_000), [], 'after Ctrl-C');
    // rm --force ends the env's processes, slirp4netns among them.
    const removed = spawnVenv(e2e.home, sleeper);
    await waitForOutput(removed, 'inside');
    const rm = await e2e.venv(['rm', '--force', '-y', 'ends']);
    assert.equal(rm.exitCode, 0, rm.stderr);
    assert.doesNotMatch(rm.stderr, /slirp4netns/, 'venv names only the user processes it ended');
    await removed;
    assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home), 5_000), [], 'after rm --force');
  });

  test('a host port already taken: one line at entry, and nothing left behind', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const takenPort = (taken.address() as { port: number }).port;
    try {
      const made = await e2e.venv(['create', '--net', 'private', '--publish', `${takenPort}:80`, 'clash']);
      assert.equal(made.exitCode, 0, made.stderr);
      // venv-publish, node's publish-ports.js where it was not built, and the node CLI.
      const ways = [{}, { env: { VENV_NATIVE_HELPERS: '0' } }, { viaNode: true }];
      for (const way of ways) {
        const result = await e2e.venv(['run', 'clash', '--', 'true'], way);
        assert.equal(result.exitCode, 125);
        const [first, ...rest] = result.stderr.trimEnd().split('\n');
        assert.equal(
          first,
          `venv: error: cannot publish tcp port ${takenPort} on 127.0.0.1 for the env's port 80: another program listens on it`,
        );
        assert.ok(rest.length === 0 || (rest.length === 1 && rest[0]?.startsWith('hint: ')), result.stderr);
        assert.deepEqual(await pollUntilEmpty(() => networkHelpers(e2e.home)), []);
      }
    } finally {
      taken.close();
    }
    // Once the port is free, the env starts (and publishes it), either way.
    assert.equal((await e2e.venv(['run', 'clash', '--', 'true'])).exitCode, 0);
    const fallback = await e2e.venv(['run', 'clash', '--', 'true'], { env: { VENV_NATIVE_HELPERS: '0' } });
    assert.equal(fallback.exitCode, 0, fallback.stderr);
  });

  test('config round trip: --publish, --rm-publish, list --json; bad ports refused', async () => {
    const made = await e2e.venv(['create', '--net', 'private', '--publish', '18080:80', 'conf']);
    assert.equal(made.exitCode, 0, made.stderr);
    const changed = await e2e.venv([
      'config',
      'conf',
      '--publish',
      '0.0.0.0:18443:443',
      '--publish',
      '15353:53',
      '--publish',
      '18080:8080',
    ]);
    assert.equal(changed.exitCode, 0, changed.stderr);
    assert.equal(
      changed.stdout,
      'net         private\nshare       home,tmp,run\nvolumes     none\n' +
        'publish     15353:53/tcp\npublish     18080:8080/tcp\npublish     0.0.0.0:18443:443/tcp\npkgdb-sync  auto\n',
    );
    const removed = await e2e.venv(['config', 'conf', '--rm-publish', '15353/tcp', '--rm-publish', '18443']);
    assert.equal(
      removed.stdout,
      'net         private\nshare       home,tmp,run\nvolumes     none\npublish     18080:8080/tcp\npkgdb-sync  auto\n',
    );
    const listed = JSON.parse((await e2e.venv(['list', '--json'])).stdout) as { name: string; settings: unknown }[];
    assert.deepEqual(listed.find((env) => env.name === 'conf')?.settings, {
      net: 'private',
      share: ['home', 'tmp', 'run'],
      volumes: [],
      publish: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 18080, envPort: 8080 }],
      pkgdbSync: 'auto',
    });
    const refusals: [string[], RegExp][] = [
      [['--publish', '80:80'], /^venv: error: cannot publish host port 80: ports below 1024 need root\nhint: /],
      [['--publish', '0:80'], /^venv: error: bad --publish "0:80": a port is a number from 1 to 65535\n/],
      [['--publish', '70000:80'], /^venv: error: bad --publish "70000:80": a port is a number/],
      [['--publish', '8080'], /^venv: error: bad --publish "8080": expected \[HOST_ADDRESS:\]HOST_PORT:ENV_PORT\n/],
      [['--publish', '8080:80/sctp'], /^venv: error: bad --publish "8080:80\/sctp": the protocol/],
      [['--publish', '8080:80/udp'], /^venv: error: bad --publish "8080:80\/udp": only tcp ports can be published/],
      [['--publish', 'localhost:8080:80'], /"localhost" is not an IPv4 address/],
      [['--rm-publish', '9999'], /^venv: error: no published port "9999" to remove\n/],
      [
        ['--net', 'host'],
        /^venv: error: cannot use these settings: published ports \(18080:8080\/tcp\) need --net private/,
      ],
    ];
    for (const [args, expected] of refusals) {
      const result = await e2e.venv(['config', 'conf', ...args]);
      assert.equal(result.exitCode, 125, args.join(' '));
      assert.match(result.stderr, expected);
    }
    // --net host with the ports dropped at once is fine.
    const toHost = await e2e.venv(['config', 'conf', '--net', 'host', '--rm-publish', '18080']);
    assert.equal(toHost.stdout, 'net         host\nshare       home,tmp,run\nvolumes     none\npkgdb-sync  auto\n');
  });
});
