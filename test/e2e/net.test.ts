// --net none: the env has a network namespace of its own with only loopback. A listener
// of the host's on 127.0.0.1 is out of its reach; its own loopback works; every session
// of the running env is in that namespace. --net host (the default) is the host's network.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { e2eSetup, skipReason } from '../helpers/e2e.js';
import { spawnVenv, waitForOutput } from '../helpers/venv-cli.js';

const e2e = e2eSetup('net');

// Run by node inside the env (node is the host's, seen through the env's /): a listener of
// its own on loopback and a connection to it, then a connection to the host's port.
const PROBE = `const net = require('net');
const own = net.createServer((c) => c.end('own')).listen(0, '127.0.0.1', () => {
  net.connect(own.address().port, '127.0.0.1').on('data', (d) => {
    console.log('loopback: ' + d);
    net.connect(+process.argv[1], '127.0.0.1')
      .on('data', (d) => { console.log('host: ' + d); process.exit(0); })
      .on('error', (e) => { console.log('host: ' + e.code); process.exit(0); });
  }).on('error', (e) => { console.log('loopback: ' + e.code); process.exit(0); });
});`;

describe('network settings', { skip: skipReason }, () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((socket) => socket.end('answer'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  const probe = (name: string) => ['run', name, '--', process.execPath, '-e', PROBE, String(port)];

  test("--net none: the host listener is unreachable, the env's own loopback works", async () => {
    const created = await e2e.venv(['create', '--net', 'none', 'offline']);
    assert.equal(created.exitCode, 0, created.stderr);
    const result = await e2e.venv(probe('offline'));
    assert.equal(result.stdout, 'loopback: own\nhost: ECONNREFUSED\n', result.stderr);
    // A first entry through nsenter (no venv-enter) starts it the same way.
    const fallback = await e2e.venv(probe('offline'), { env: { VENV_NATIVE_HELPERS: '0' } });
    assert.equal(fallback.stdout, 'loopback: own\nhost: ECONNREFUSED\n', fallback.stderr);
    const links = await e2e.venv(['run', 'offline', '--', 'cat', '/proc/net/dev']);
    assert.deepEqual(
      links.stdout
        .split('\n')
        .slice(2)
        .filter(Boolean)
        .map((line) => line.trim().split(':')[0]),
      ['lo'],
      'only loopback',
    );
  });

  test('a second session joins the running env in its network namespace', async () => {
    if (!existsSync(e2e.envDir('offline'))) await e2e.venv(['create', '--net', 'none', 'offline']);
    const first = spawnVenv(e2e.home, ['run', 'offline', '--', 'sh', '-c', 'echo inside; sleep 30']);
    await waitForOutput(first, 'inside');
    const second = await e2e.venv(probe('offline'));
    assert.equal(second.stdout, 'loopback: own\nhost: ECONNREFUSED\n', second.stderr);
    // Through node too (the same session.sh), and through nsenter where venv-enter was not built.
    const viaNode = await e2e.venv(probe('offline'), { viaNode: true });
    assert.equal(viaNode.stdout, 'loopback: own\nhost: ECONNREFUSED\n', viaNode.stderr);
    const viaNsenter = await e2e.venv(probe('offline'), { env: { VENV_NATIVE_HELPERS: '0' } });
    assert.equal(viaNsenter.stdout, 'loopback: own\nhost: ECONNREFUSED\n', viaNsenter.stderr);
    first.kill('SIGTERM');
    await first;
  });

  test('--net host (the default) reaches the host listener; config switches an env between the two', async () => {
    await e2e.create('online');
    assert.equal((await e2e.venv(probe('online'))).stdout, 'loopback: own\nhost: answer\n');
    assert.equal((await e2e.venv(['config', 'online', '--net', 'none'])).exitCode, 0);
    assert.equal((await e2e.venv(probe('online'))).stdout, 'loopback: own\nhost: ECONNREFUSED\n');
    assert.equal((await e2e.venv(['config', 'online', '--net', 'host'])).exitCode, 0);
    assert.equal((await e2e.venv(probe('online'))).stdout, 'loopback: own\nhost: answer\n');
  });
});
