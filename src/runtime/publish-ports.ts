// The published ports of a `--net private` env, asked of slirp4netns when the env starts:
//   node publish-ports.js API_SOCKET < run/settings
// (env-net.sh runs it in the keeper, before any process of the env, where venv-publish,
// src/native/publish, which does the same in C, was not built). Each "publish" line
// (tab-separated: PROTOCOL HOST_ADDRESS HOST_PORT ENV_PORT, written by node from checked
// settings: env-settings.ts) becomes one add_hostfwd request on slirp4netns's API socket,
// a connection each, as its API wants. On the first refusal it prints one line saying
// which port and why on stdout (the session's error message) and exits 1: the keeper then
// ends the env, slirp4netns with it, so nothing is left listening. Plain node modules
// only: it runs at every start of such an env.
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';

interface Port {
  protocol: string;
  hostAddress: string;
  hostPort: number;
  envPort: number;
}

/** One request, one reply (slirp4netns answers and closes). */
function ask(socket: string, request: object): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const connection = createConnection(socket, () => connection.end(JSON.stringify(request)));
    connection.setEncoding('utf8');
    connection.on('data', (chunk: string) => (reply += chunk));
    connection.on('end', () => resolve(reply));
    connection.on('error', reject);
  });
}

/**
 * slirp4netns says only "slirp_add_hostfwd failed": the usual cause, a port another
 * program has, is found by trying to listen on it ourselves.
 */
function whyRefused(port: Port): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'EADDRINUSE' ? 'another program listens on it' : `the host refused: ${error.code}`),
    );
    server.listen(port.hostPort, port.hostAddress, () => server.close(() => resolve('it cannot listen there')));
  });
}

async function readPorts(): Promise<Port[]> {
  const ports: Port[] = [];
  for await (const line of createInterface({ input: process.stdin })) {
    const [key, protocol = '', hostAddress = '', hostPort = '', envPort = ''] = line.split('\t');
    if (key === 'publish') ports.push({ protocol, hostAddress, hostPort: Number(hostPort), envPort: Number(envPort) });
  }
  return ports;
}

async function main(): Promise<number> {
  const socket = process.argv[2];
  if (!socket) throw new Error('usage: publish-ports.js API_SOCKET < run/settings');
  for (const port of await readPorts()) {
    const request = {
      execute: 'add_hostfwd',
      arguments: {
        proto: port.protocol,
        host_addr: port.hostAddress,
        host_port: port.hostPort,
        guest_port: port.envPort,
      },
    };
    const reply = await ask(socket, request);
    if (!reply.includes('"return"')) {
      process.stderr.write(`slirp4netns: ${reply}\n`);
      const why = await whyRefused(port);
      process.stdout.write(
        `cannot publish ${port.protocol} port ${port.hostPort} on ${port.hostAddress} for the env's port ${port.envPort}: ${why}\n`,
      );
      return 1;
    }
  }
  return 0;
}

main().then(
  (status) => (process.exitCode = status),
  (error: unknown) => {
    process.stderr.write(`publish-ports: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
