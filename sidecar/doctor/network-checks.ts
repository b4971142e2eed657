/**
 * The doctor's network checks. The port: can the sidecar bind --host:--port (bound, then released at once).
 * The advertised address (--advertise, else what the sidecar would advertise): before the sidecar runs nothing of
 * it listens there, so the check stands in for it: it resolves the name, listens on --host:--port itself and
 * connects to the advertised host:port from this host; the address is reachable when that connection arrives
 * at this listener (not at some other program, and not refused or dropped on the way).
 */
import { lookup } from 'node:dns/promises';
import { connect, createServer, type Server } from 'node:net';
import type { Config } from '../config.js';
import { instanceFor } from '../instance.js';
import { CheckFailure } from './report.js';

const CONNECT_TIMEOUT_MS = 3000;

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Listens; each connection's remote port goes to `seen` (so a connection is known to be ours), then it is closed. */
function listenOn(host: string, port: number, seen = new Set<number>()): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      seen.add(socket.remotePort ?? 0);
      socket.destroy();
    });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function checkPort(config: Config): Promise<string> {
  const where = `${bracket(config.host)}:${config.port}`;
  let server: Server;
  try {
    server = await listenOn(config.host, config.port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CheckFailure(
        `${where} is in use by another process`,
        `stop that process (\`ss -ltnp 'sport = :${config.port}'\` shows it) or choose another --port`,
      );
    if (code === 'EADDRNOTAVAIL')
      throw new CheckFailure(
        `${config.host} is not an address of this host`,
        'give --host an address of one of its interfaces (0.0.0.0 for all of them, 127.0.0.1 for loopback only)',
      );
    if (code === 'EACCES')
      throw new CheckFailure(
        `binding ${where} is not permitted`,
        'ports below 1024 need privileges: choose --port 1024 or above',
      );
    throw new CheckFailure(`cannot bind ${where}: ${(err as Error).message}`, 'check --host and --port');
  }
  const { port } = server.address() as { port: number };
  await closeServer(server);
  return config.port === 0
    ? `${bracket(config.host)} can be bound (port 0: the OS picks one, e.g. ${port})`
    : `${where} is free`;
}

export async function checkAdvertise(config: Config): Promise<string> {
  const instance = instanceFor(config, config.port);
  const { advertiseHost: host, advertisePort: port } = instance;
  const named = config.advertise ? '--advertise' : 'the advertised address (no --advertise: derived from --host)';
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    throw new CheckFailure(
      `${named} ${bracket(host)}:${port}: the name does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'advertise a name that the mesh (Consul, Kong) and this host resolve, or an IP address: --advertise <host>:<port>',
    );
  }
  if (port === 0)
    return `${bracket(host)} resolves to ${addresses.join(', ')}; its port is known only once the sidecar listens (--port 0)`;
  const seen = new Set<number>();
  const server = await listenOn(config.host, config.port, seen);
  try {
    for (const address of addresses) {
      const outcome = await connectTo(address, port, seen);
      if (outcome !== 'ours')
        throw new CheckFailure(
          `${named} ${bracket(host)}:${port} (${address}): ${outcome}`,
          `the sidecar listens on ${bracket(config.host)}:${config.port}; advertise an address that leads there from ` +
            `this host (an address of an interface --host covers, with the same port, or a forwarding to it), or change --host`,
        );
    }
  } finally {
    await closeServer(server);
  }
  return (
    `${bracket(host)}:${port} resolves to ${addresses.join(', ')}, and a connection to it from this host reaches ` +
    `${bracket(config.host)}:${config.port}, where the sidecar will listen`
  );
}

/** 'ours' when the connection reached our listener; else what happened instead. */
function connectTo(address: string, port: number, seen: Set<number>): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => done(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s (filtered or unroutable)`),
      CONNECT_TIMEOUT_MS,
    );
    socket.once('error', (err: NodeJS.ErrnoException) => done(`connection failed (${err.code ?? err.message})`));
    socket.once('connect', () => {
      // Connected: to our listener, or to something else listening there (a port forwarded elsewhere).
      const since = Date.now();
      const local = socket.localPort ?? -1; // read now: our listener closes the connection at once
      const poll = setInterval(() => {
        if (seen.has(local)) done('ours');
        else if (Date.now() - since > 500)
          done('something else answers there, not the port the sidecar will listen on');
        else return;
        clearInterval(poll);
      }, 10);
    });
  });
}
