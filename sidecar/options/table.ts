/**
 * The sidecar's options, in the sections --help shows. Each key is the name of the value in `Config`
 * (config.ts), each entry says how the option is written and parsed; --help and the environment names
 * come from here too, so none of them can drift from the others.
 */
import { bytes, choice, duration, hostPort, int, list, port, routePath, serviceName, text, toggle } from './option.js';
import type { Section } from './help.js';
import { parseKeyValue } from './validate.js';

const SERVING = {
  name: serviceName({ flag: 'name', arg: 'name', help: 'service name (default: derived from the command)' }),
  host: text({ flag: 'host', default: '127.0.0.1', arg: 'addr', help: 'bind address' }),
  port: port({ flag: 'port', default: '8080', arg: 'n', help: 'HTTP port (0 picks a free one and prints it)' }),
  maxBodyBytes: bytes({ flag: 'max-body', default: '4mb', arg: 'size', help: 'largest request body accepted (413 above)' }),
  allowedHosts: list({
    flag: 'allowed-hosts',
    split: true,
    arg: 'h,h',
    help:
      'Host header names accepted on /mcp and /tools (default: loopback names when bound to loopback, any otherwise); ' +
      'loopback, the --advertise host and, with --kong-admin, mcp-<name> always pass',
  }),
  allowedOrigins: list({
    flag: 'allowed-origins',
    split: true,
    arg: 'o,o',
    help: 'browser Origins accepted besides loopback and same-host ones',
  }),
  sessionIdleMs: duration({
    flag: 'session-idle',
    default: '10m',
    arg: 'dur',
    help: 'close MCP sessions idle (no request, no open stream) this long',
  }),
  keepAliveMs: duration({ flag: 'keep-alive', default: '15s', arg: 'dur', help: 'SSE keep-alive comment interval' }),
  eventStoreEvents: int({
    flag: 'event-store-events',
    default: '1000',
    arg: 'n',
    help: 'SSE events kept per session for Last-Event-ID resumption (0 = off)',
  }),
  eventStoreBytes: bytes({
    flag: 'event-store-bytes',
    default: '1mb',
    arg: 'size',
    help: 'bytes of SSE events kept per session for resumption',
  }),
  streamBufferBytes: bytes({
    flag: 'stream-buffer',
    default: '1mb',
    arg: 'size',
    help:
      'bytes an SSE stream may have unsent (a client that does not read); ' +
      'past it the stream is closed and the client resumes with Last-Event-ID',
  }),
  maxDepth: int({ flag: 'max-depth', min: 1, default: '64', arg: 'n', help: 'deepest JSON nesting accepted in a request body (400 past it)' }),
  maxBatch: int({ flag: 'max-batch', min: 1, default: '100', arg: 'n', help: 'messages accepted in one JSON-RPC batch (400 past it)' }),
  headerTimeoutMs: duration({ flag: 'header-timeout', default: '10s', arg: 'dur', help: 'time a client has to send its request headers' }),
  bodyTimeoutMs: duration({
    flag: 'body-timeout',
    default: '30s',
    arg: 'dur',
    help: 'time a client has to send its request body (an SSE response is never cut by it)',
  }),
  maxConnections: int({ flag: 'max-connections', min: 1, default: '1024', arg: 'n', help: 'open HTTP connections accepted; more are refused' }),
  maxBodyReadingBytes: bytes({
    flag: 'max-body-reading',
    default: '64mb',
    arg: 'size',
    help: 'request body bytes being read at once over all connections (503 past it)',
  }),
};

const SESSIONS = {
  sessionMode: choice({
    flag: 'session-mode',
    values: ['shared', 'isolated'],
    default: 'shared',
    arg: 'mode',
    help: 'shared: sessions multiplexed over --workers processes; isolated: one process per session',
  }),
  workers: int({ flag: 'workers', min: 1, default: '1', arg: 'n', help: 'server processes in shared mode (sessions go to the least loaded)' }),
  warm: int({ flag: 'warm', default: '0', arg: 'n', help: 'isolated mode: pre-started, handshaken spare processes' }),
  maxSessions: int({ flag: 'max-sessions', min: 1, default: '1000', arg: 'n', help: 'open sessions allowed (503 past it)' }),
  maxInflight: int({
    flag: 'max-inflight',
    min: 1,
    default: '512',
    arg: 'n',
    help: 'requests in flight at one server process (past it: an error at once, 503 on REST)',
  }),
  maxSessionInflight: int({
    flag: 'max-session-inflight',
    min: 1,
    default: '64',
    arg: 'n',
    help: 'requests in flight for one MCP session, so that one client cannot starve the others',
  }),
  readyWaitMs: duration({
    flag: 'ready-wait',
    default: '10s',
    arg: 'dur',
    help: 'a request that arrives while the server is starting or restarting waits this long for it (0 = fail at once)',
  }),
  retryIdempotent: toggle({
    flag: 'retry-idempotent',
    default: 'true',
    help:
      'retry once, on the restarted server, a call in flight when the server died ' +
      'if the tool is annotated readOnlyHint or idempotentHint',
  }),
  requestTimeoutMs: duration({
    flag: 'request-timeout',
    default: '60s',
    arg: 'dur',
    help: 'time a request may take at the server (progress resets it); then cancelled',
  }),
};

const PROCESS = {
  env: list({ flag: 'env', item: parseKeyValue, arg: 'KEY=VAL', help: 'environment variable for the server (repeatable)' }),
  passEnv: list({
    flag: 'pass-env',
    arg: 'NAME',
    help: "pass this variable of the sidecar's environment to the server (repeatable; PATH, HOME, locale, proxies and a few more always pass)",
  }),
  cwd: text({ flag: 'cwd', arg: 'dir', help: 'working directory of the server' }),
  maxMessageBytes: bytes({ flag: 'max-message', default: '64mb', arg: 'size', help: 'largest line accepted from the server stdout' }),
  handshakeTimeoutMs: duration({ flag: 'handshake-timeout', default: '30s', arg: 'dur', help: 'time for initialize and the list requests' }),
  pingIntervalMs: duration({ flag: 'ping-interval', default: '10s', arg: 'dur', help: 'liveness MCP ping interval' }),
  pingTimeoutMs: duration({ flag: 'ping-timeout', default: '5s', arg: 'dur', help: 'a ping unanswered this long is a miss' }),
  pingMisses: int({
    flag: 'ping-misses',
    min: 1,
    default: '2',
    arg: 'n',
    help: 'misses in a row after which the server counts as hung and is restarted',
  }),
  restartMinMs: duration({ flag: 'restart-min', default: '250ms', arg: 'dur', help: 'first restart delay (doubles each failure, with jitter)' }),
  restartMaxMs: duration({ flag: 'restart-max', default: '30s', arg: 'dur', help: 'longest restart delay' }),
  crashLoopRestarts: int({
    flag: 'crash-loop-restarts',
    min: 1,
    default: '5',
    arg: 'n',
    help: 'failures within --crash-loop-window that stop restarting',
  }),
  crashLoopWindowMs: duration({ flag: 'crash-loop-window', default: '60s', arg: 'dur', help: 'window for counting failures' }),
  exitOnFailure: toggle({ flag: 'exit-on-failure', help: 'exit non-zero when the server crash-loops (let an orchestrator restart us)' }),
  shutdownGraceMs: duration({ flag: 'shutdown-grace', default: '10s', arg: 'dur', help: 'on SIGTERM: time for in-flight requests to finish' }),
  stopTimeoutMs: duration({
    flag: 'stop-timeout',
    default: '2s',
    arg: 'dur',
    help: 'after closing stdin, and again after SIGTERM, before escalating',
  }),
};

const CONSUL = {
  consulUrl: text({ flag: 'consul', env: 'CONSUL_HTTP_ADDR', arg: 'url', help: 'Consul agent address (enables registration)' }),
  consulTokenFile: text({
    flag: 'consul-token-file',
    env: 'CONSUL_HTTP_TOKEN_FILE',
    arg: 'path',
    help: 'file with the ACL token (or CONSUL_HTTP_TOKEN)',
  }),
  consulCaFile: text({
    flag: 'consul-ca-file',
    env: 'CONSUL_CACERT',
    arg: 'path',
    help: "PEM file of the CA that signed an https:// agent's certificate (default: the system CAs)",
  }),
  serviceId: text({ flag: 'service-id', arg: 'id', help: 'unique instance id (default <name>-<host>-<port>)' }),
  advertise: hostPort({
    flag: 'advertise',
    arg: 'host:port',
    help: 'address others reach this sidecar at (default: bind address and port)',
  }),
  deregisterAfterMs: duration({
    flag: 'deregister-after',
    default: '1m',
    arg: 'dur',
    help: 'Consul reaps the service after its check is critical this long (min 1m)',
  }),
  checkTtlMs: duration({ flag: 'check-ttl', arg: 'dur', help: 'TTL of the MCP ping check (default 3 x --ping-interval)' }),
  tags: list({ flag: 'tag', arg: 'tag', help: 'extra service tag (repeatable)' }),
};

const KONG = {
  kongAdminUrl: text({ flag: 'kong-admin', arg: 'url', help: 'Kong Admin API (enables route and target publishing)' }),
  kongRoutePath: routePath({ flag: 'kong-route-path', arg: 'path', help: 'route path (default /<name>)' }),
};

const OTHER = {
  logLevel: choice({
    flag: 'log-level',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
    default: 'info',
    arg: 'level',
    help: 'log level',
  }),
  help: toggle({ flag: 'help', short: 'h', help: 'show this help' }),
  version: toggle({ flag: 'version', help: 'print the version' }),
};

export const SECTIONS: Section[] = [
  ['Serving', SERVING],
  ['Sessions', SESSIONS],
  ['MCP server process', PROCESS],
  ['Consul', CONSUL],
  ['Kong', KONG],
  ['Other', OTHER],
];

export const OPTIONS = { ...SERVING, ...SESSIONS, ...PROCESS, ...CONSUL, ...KONG, ...OTHER };
