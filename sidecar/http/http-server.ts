/**
 * The node:http server and the limits that protect it from slow or many clients: how long a request may take
 * to arrive, how many connections may be open. (Body sizes and the reading budget are body.ts's business.)
 *
 * Node's `requestTimeout` is the body timeout. Checked on Node 20 and 24: it runs from a request's first byte
 * until its last (the parser's message-complete), so a response that streams after the request is complete
 * (every SSE stream here: GET has no body, a POST is read whole before it is answered) is never cut, and an
 * idle keep-alive connection between requests is not timed either (keepAliveTimeout closes those).
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

export interface ServerLimits {
  /** --header-timeout: time from a request's first byte until its headers are complete (0 = off). */
  headerTimeoutMs: number;
  /** --body-timeout: time from a request's first byte until its body is complete (0 = off). */
  bodyTimeoutMs: number;
  /** --max-connections: open connections; node closes more as soon as it accepts them. */
  maxConnections: number;
}

/** How often node looks for timed-out requests: its default of 30 s would let a 1 s timeout run for 31. */
function checkingInterval(limits: ServerLimits): number {
  const timeouts = [limits.headerTimeoutMs, limits.bodyTimeoutMs].filter((ms) => ms > 0);
  return Math.max(50, Math.min(1000, ...timeouts.map((ms) => ms / 4)));
}

export function createHttpServer(handler: RequestListener, limits: ServerLimits, log: Logger): Server {
  const server = createServer(
    {
      connectionsCheckingInterval: checkingInterval(limits),
      // The body timeout runs from the first byte too, so headers slower than it are late anyway (and node
      // refuses a headersTimeout above requestTimeout).
      headersTimeout:
        limits.bodyTimeoutMs > 0 && limits.headerTimeoutMs > 0
          ? Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs)
          : limits.headerTimeoutMs,
      requestTimeout: limits.bodyTimeoutMs,
      // Behind Kong or a load balancer, idle keep-alive connections must outlive the proxy's own timeout.
      keepAliveTimeout: 65_000,
    },
    handler,
  );
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket, limits));
  warnOnDrops(server, limits, log);
  return server;
}

/** Sockets whose current request was answered before it fully arrived (a refusal; node drains the rest). */
const answeredEarly = new WeakSet<Socket>();

/** Called when a response finished: a timeout of the request it answered must not get a second answer. */
export function noteAnswered(req: IncomingMessage): void {
  if (req.complete) return;
  const socket = req.socket;
  answeredEarly.add(socket);
  req.once('end', () => answeredEarly.delete(socket));
}

/**
 * Node's own answer to a bad or late request is a bare status line, and none at all on a keep-alive connection
 * that already carried a response. This one says which limit was hit, as JSON, on every connection whose
 * current request has not been answered; one whose answer has started or ended can only be closed.
 */
function clientError(err: NodeJS.ErrnoException, socket: Socket, limits: ServerLimits): void {
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code !== 'ECONNRESET' && socket.writable && !current?.headersSent && !answeredEarly.has(socket)) {
    const [status, message] = errorAnswer(err, limits);
    const body = JSON.stringify({ error: message });
    socket.write(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

function errorAnswer(err: NodeJS.ErrnoException, limits: ServerLimits): [string, string] {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        '408 Request Timeout',
        `the request did not arrive in time: its headers must arrive within ${limits.headerTimeoutMs} ms (--header-timeout) and the whole request within ${limits.bodyTimeoutMs} ms (--body-timeout); send it at once`,
      ];
    case 'HPE_HEADER_OVERFLOW':
      return [
        '431 Request Header Fields Too Large',
        'the request headers are larger than node accepts (16 KB by default); send fewer or smaller headers',
      ];
    default:
      return ['400 Bad Request', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}: ${err.message})`];
  }
}

/** A refused connection gets no answer (node closes it at once): the operator hears of it, once a minute at most. */
function warnOnDrops(server: Server, limits: ServerLimits, log: Logger): void {
  let dropped = 0;
  let lastWarned = 0;
  server.on('drop', () => {
    dropped++;
    if (Date.now() - lastWarned < 60_000) return;
    lastWarned = Date.now();
    log.warn(
      { dropped, maxConnections: limits.maxConnections },
      `refused connections: ${limits.maxConnections} were open (--max-connections); ${dropped} refused since start`,
    );
  });
}

/** Listens; rejects with an error that says what to do when the port is taken. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is in use; pick another with --port (0 = any free port)`)
          : err,
      );
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Stops accepting, and drops the connections still open (SSE streams were ended before). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
