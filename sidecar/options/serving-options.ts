/**
 * The sections of the sidecar's option table that HTTP clients meet: serving and sessions (table.ts puts
 * them together with the rest).
 */
import { bytes, choice, duration, int, list, port, serviceName, text, toggle } from './option.js';

export const SERVING = {
  name: serviceName({ flag: 'name', arg: 'name', help: 'service name (default: derived from the command)' }),
  host: text({ flag: 'host', default: '127.0.0.1', arg: 'addr', help: 'bind address' }),
  port: port({ flag: 'port', default: '8080', arg: 'n', help: 'HTTP port (0 picks a free one and prints it)' }),
  maxBodyBytes: bytes({
    flag: 'max-body',
    default: '4mb',
    arg: 'size',
    help: 'largest request body accepted (413 above)',
  }),
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
  listTtlMs: duration({
    flag: 'list-ttl',
    default: '60s',
    arg: 'dur',
    help: 'how long clients may cache list results (ttlMs of 2026-07-28 list results, Cache-Control of GET /tools)',
  }),
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
  maxDepth: int({
    flag: 'max-depth',
    min: 1,
    default: '64',
    arg: 'n',
    help: 'deepest JSON nesting accepted in a request body (400 past it)',
  }),
  maxBatch: int({
    flag: 'max-batch',
    min: 1,
    default: '100',
    arg: 'n',
    help: 'messages accepted in one JSON-RPC batch (400 past it)',
  }),
  headerTimeoutMs: duration({
    flag: 'header-timeout',
    default: '10s',
    arg: 'dur',
    help: 'time a client has to send its request headers',
  }),
  bodyTimeoutMs: duration({
    flag: 'body-timeout',
    default: '30s',
    arg: 'dur',
    help: 'time a client has to send its request body (an SSE response is never cut by it)',
  }),
  maxConnections: int({
    flag: 'max-connections',
    min: 1,
    default: '1024',
    arg: 'n',
    help: 'open HTTP connections accepted; more are refused',
  }),
  maxBodyReadingBytes: bytes({
    flag: 'max-body-reading',
    default: '64mb',
    arg: 'size',
    help: 'request body bytes received and held at once over all connections, counted as they arrive (503 past it)',
  }),
};

export const SESSIONS = {
  sessionMode: choice({
    flag: 'session-mode',
    values: ['shared', 'isolated'],
    default: 'shared',
    arg: 'mode',
    help: 'shared: sessions multiplexed over --workers processes; isolated: one process per session',
  }),
  workers: int({
    flag: 'workers',
    min: 1,
    default: '1',
    arg: 'n',
    help: 'server processes in shared mode (sessions go to the least loaded)',
  }),
  warm: int({ flag: 'warm', default: '0', arg: 'n', help: 'isolated mode: pre-started, handshaken spare processes' }),
  maxSessions: int({
    flag: 'max-sessions',
    min: 1,
    default: '1000',
    arg: 'n',
    help: 'open sessions allowed (503 past it)',
  }),
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
  inputWaitMs: duration({
    flag: 'input-wait',
    default: '5m',
    arg: 'dur',
    help:
      'a 2026-07-28 call that asked its client for input (InputRequiredResult) waits this long for the retry ' +
      'with inputResponses; then it is cancelled at the server',
  }),
  maxPendingInput: int({
    flag: 'max-pending-input',
    min: 1,
    default: '1000',
    arg: 'n',
    help: "calls waiting for their client's inputResponses at once (past it: 503)",
  }),
  stateKeyFile: text({
    flag: 'state-key-file',
    arg: 'path',
    help:
      'HMAC-SHA256 key (32+ bytes) that signs the requestState of InputRequiredResults; ' +
      'replicas of one service share it (default: a random key per process)',
  }),
  forwardTimeoutMs: duration({
    flag: 'forward-timeout',
    default: '5s',
    arg: 'dur',
    help:
      'a retry whose call waits at another replica is forwarded to it (found in Consul): ' +
      'time to connect to it, and to ask Consul where it is',
  }),
  requestTimeoutMs: duration({
    flag: 'request-timeout',
    default: '60s',
    arg: 'dur',
    help: 'time a request may take at the server (progress resets it); then cancelled',
  }),
};
