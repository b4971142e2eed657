/**
 * Configuration: flags, then MCP_SIDECAR_* environment, then the ecosystem's own names (CONSUL_HTTP_ADDR,
 * CONSUL_HTTP_TOKEN), then defaults. One table drives parsing, the environment names and --help, so they
 * cannot drift apart.
 */
import { createRequire } from 'node:module';
import { basename } from 'node:path';

type Kind = 'string' | 'int' | 'duration' | 'bytes' | 'bool' | 'list';

interface OptionSpec {
  flag: string;
  kind: Kind;
  default?: string;
  /** Another environment variable to fall back on (the ecosystem's standard name). */
  env?: string;
  values?: string[];
  arg?: string;
  help: string;
  group: string;
}

const OPTIONS: OptionSpec[] = [
  { group: 'Serving', flag: 'name', kind: 'string', arg: 'name', help: 'service name (default: derived from the command)' },
  { group: 'Serving', flag: 'host', kind: 'string', default: '127.0.0.1', arg: 'addr', help: 'bind address' },
  { group: 'Serving', flag: 'port', kind: 'int', default: '8080', arg: 'n', help: 'HTTP port (0 picks a free one and prints it)' },
  { group: 'Serving', flag: 'max-body', kind: 'bytes', default: '4mb', arg: 'size', help: 'largest request body accepted (413 above)' },
  { group: 'Serving', flag: 'allowed-hosts', kind: 'list', arg: 'h,h', help: 'Host header names accepted on /mcp and /tools (default: loopback names when bound to loopback, any otherwise); loopback, the --advertise host and, with --kong-admin, mcp-<name> always pass' },
  { group: 'Serving', flag: 'allowed-origins', kind: 'list', arg: 'o,o', help: 'browser Origins accepted besides loopback and same-host ones' },
  { group: 'Serving', flag: 'session-idle', kind: 'duration', default: '10m', arg: 'dur', help: 'close MCP sessions idle (no request, no open stream) this long' },
  { group: 'Serving', flag: 'keep-alive', kind: 'duration', default: '15s', arg: 'dur', help: 'SSE keep-alive comment interval' },
  { group: 'Serving', flag: 'event-store-events', kind: 'int', default: '1000', arg: 'n', help: 'SSE events kept per session for Last-Event-ID resumption (0 = off)' },
  { group: 'Serving', flag: 'event-store-bytes', kind: 'bytes', default: '1mb', arg: 'size', help: 'bytes of SSE events kept per session for resumption' },
  { group: 'Serving', flag: 'stream-buffer', kind: 'bytes', default: '1mb', arg: 'size', help: 'bytes an SSE stream may have unsent (a client that does not read); past it the stream is closed and the client resumes with Last-Event-ID' },
  { group: 'Serving', flag: 'max-depth', kind: 'int', default: '64', arg: 'n', help: 'deepest JSON nesting accepted in a request body (400 past it)' },
  { group: 'Serving', flag: 'max-batch', kind: 'int', default: '100', arg: 'n', help: 'messages accepted in one JSON-RPC batch (400 past it)' },
  { group: 'Serving', flag: 'header-timeout', kind: 'duration', default: '10s', arg: 'dur', help: 'time a client has to send its request headers' },
  { group: 'Serving', flag: 'body-timeout', kind: 'duration', default: '30s', arg: 'dur', help: 'time a client has to send its request body (an SSE response is never cut by it)' },
  { group: 'Serving', flag: 'max-connections', kind: 'int', default: '1024', arg: 'n', help: 'open HTTP connections accepted; more are refused' },
  { group: 'Serving', flag: 'max-body-reading', kind: 'bytes', default: '64mb', arg: 'size', help: 'request body bytes being read at once over all connections (503 past it)' },

  { group: 'Sessions', flag: 'session-mode', kind: 'string', default: 'shared', values: ['shared', 'isolated'], arg: 'mode', help: 'shared: sessions multiplexed over --workers processes; isolated: one process per session' },
  { group: 'Sessions', flag: 'workers', kind: 'int', default: '1', arg: 'n', help: 'server processes in shared mode (sessions go to the least loaded)' },
  { group: 'Sessions', flag: 'warm', kind: 'int', default: '0', arg: 'n', help: 'isolated mode: pre-started, handshaken spare processes' },
  { group: 'Sessions', flag: 'max-sessions', kind: 'int', default: '1000', arg: 'n', help: 'open sessions allowed (503 past it)' },
  { group: 'Sessions', flag: 'max-inflight', kind: 'int', default: '512', arg: 'n', help: 'requests in flight at one server process (past it: an error at once, 503 on REST)' },
  { group: 'Sessions', flag: 'max-session-inflight', kind: 'int', default: '64', arg: 'n', help: 'requests in flight for one MCP session, so that one client cannot starve the others' },
  { group: 'Sessions', flag: 'ready-wait', kind: 'duration', default: '10s', arg: 'dur', help: 'a request that arrives while the server is starting or restarting waits this long for it (0 = fail at once)' },
  { group: 'Sessions', flag: 'retry-idempotent', kind: 'bool', default: 'true', help: 'retry once, on the restarted server, a call in flight when the server died if the tool is annotated readOnlyHint or idempotentHint' },
  { group: 'Sessions', flag: 'request-timeout', kind: 'duration', default: '60s', arg: 'dur', help: 'time a request may take at the server (progress resets it); then cancelled' },

  { group: 'MCP server process', flag: 'env', kind: 'list', arg: 'KEY=VAL', help: 'environment variable for the server (repeatable)' },
  { group: 'MCP server process', flag: 'pass-env', kind: 'list', arg: 'NAME', help: "pass this variable of the sidecar's environment to the server (repeatable; PATH, HOME, locale, proxies and a few more always pass)" },
  { group: 'MCP server process', flag: 'cwd', kind: 'string', arg: 'dir', help: 'working directory of the server' },
  { group: 'MCP server process', flag: 'max-message', kind: 'bytes', default: '64mb', arg: 'size', help: 'largest line accepted from the server stdout' },
  { group: 'MCP server process', flag: 'handshake-timeout', kind: 'duration', default: '30s', arg: 'dur', help: 'time for initialize and the list requests' },
  { group: 'MCP server process', flag: 'ping-interval', kind: 'duration', default: '10s', arg: 'dur', help: 'liveness MCP ping interval' },
  { group: 'MCP server process', flag: 'ping-timeout', kind: 'duration', default: '5s', arg: 'dur', help: 'a ping unanswered this long is a miss' },
  { group: 'MCP server process', flag: 'ping-misses', kind: 'int', default: '2', arg: 'n', help: 'misses in a row after which the server counts as hung and is restarted' },
  { group: 'MCP server process', flag: 'restart-min', kind: 'duration', default: '250ms', arg: 'dur', help: 'first restart delay (doubles each failure, with jitter)' },
  { group: 'MCP server process', flag: 'restart-max', kind: 'duration', default: '30s', arg: 'dur', help: 'longest restart delay' },
  { group: 'MCP server process', flag: 'crash-loop-restarts', kind: 'int', default: '5', arg: 'n', help: 'failures within --crash-loop-window that stop restarting' },
  { group: 'MCP server process', flag: 'crash-loop-window', kind: 'duration', default: '60s', arg: 'dur', help: 'window for counting failures' },
  { group: 'MCP server process', flag: 'exit-on-failure', kind: 'bool', default: 'false', help: 'exit non-zero when the server crash-loops (let an orchestrator restart us)' },
  { group: 'MCP server process', flag: 'shutdown-grace', kind: 'duration', default: '10s', arg: 'dur', help: 'on SIGTERM: time for in-flight requests to finish' },
  { group: 'MCP server process', flag: 'stop-timeout', kind: 'duration', default: '2s', arg: 'dur', help: 'after closing stdin, and again after SIGTERM, before escalating' },

  { group: 'Consul', flag: 'consul', kind: 'string', env: 'CONSUL_HTTP_ADDR', arg: 'url', help: 'Consul agent address (enables registration)' },
  { group: 'Consul', flag: 'consul-token-file', kind: 'string', env: 'CONSUL_HTTP_TOKEN_FILE', arg: 'path', help: 'file with the ACL token (or CONSUL_HTTP_TOKEN)' },
  { group: 'Consul', flag: 'consul-ca-file', kind: 'string', env: 'CONSUL_CACERT', arg: 'path', help: 'PEM file of the CA that signed an https:// agent\'s certificate (default: the system CAs)' },
  { group: 'Consul', flag: 'service-id', kind: 'string', arg: 'id', help: 'unique instance id (default <name>-<host>-<port>)' },
  { group: 'Consul', flag: 'advertise', kind: 'string', arg: 'host:port', help: 'address others reach this sidecar at (default: bind address and port)' },
  { group: 'Consul', flag: 'deregister-after', kind: 'duration', default: '1m', arg: 'dur', help: 'Consul reaps the service after its check is critical this long (min 1m)' },
  { group: 'Consul', flag: 'check-ttl', kind: 'duration', arg: 'dur', help: 'TTL of the MCP ping check (default 3 x --ping-interval)' },
  { group: 'Consul', flag: 'tag', kind: 'list', arg: 'tag', help: 'extra service tag (repeatable)' },

  { group: 'Kong', flag: 'kong-admin', kind: 'string', arg: 'url', help: 'Kong Admin API (enables route and target publishing)' },
  { group: 'Kong', flag: 'kong-route-path', kind: 'string', arg: 'path', help: 'route path (default /<name>)' },

  { group: 'Other', flag: 'log-level', kind: 'string', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], arg: 'level', help: 'log level' },
  { group: 'Other', flag: 'help', kind: 'bool', default: 'false', help: 'show this help' },
  { group: 'Other', flag: 'version', kind: 'bool', default: 'false', help: 'print the version' },
];

export interface Config {
  name: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  allowedHosts: string[];
  allowedOrigins: string[];
  sessionIdleMs: number;
  keepAliveMs: number;
  eventStoreEvents: number;
  eventStoreBytes: number;
  streamBufferBytes: number;
  maxDepth: number;
  maxBatch: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
  maxBodyReadingBytes: number;
  maxInflight: number;
  maxSessionInflight: number;
  readyWaitMs: number;
  retryIdempotent: boolean;
  sessionMode: 'shared' | 'isolated';
  workers: number;
  warm: number;
  maxSessions: number;
  requestTimeoutMs: number;
  command: string;
  args: string[];
  env: Record<string, string>;
  passEnv: string[];
  cwd?: string;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  pingMisses: number;
  restartMinMs: number;
  restartMaxMs: number;
  crashLoopRestarts: number;
  crashLoopWindowMs: number;
  exitOnFailure: boolean;
  shutdownGraceMs: number;
  stopTimeoutMs: number;
  consul?: { url: string; token?: string; ca?: string; deregisterAfterMs: number; checkTtlMs: number; tags: string[] };
  serviceId?: string;
  advertise?: { host: string; port: number };
  kong?: { adminUrl: string; routePath?: string };
  logLevel: string;
  help: boolean;
  version: boolean;
}

export class ConfigError extends Error {}

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--${flag}: "${text}" is not a duration; use e.g. 500ms, 10s, 1m`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

export function parseBytes(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`--${flag}: "${text}" is not a size; use e.g. 512kb, 4mb`);
  const unit = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.round(Number(m[1]) * unit);
}

function parseInt10(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`--${flag}: "${text}" is not a whole number`);
  return Number(text);
}

const envName = (flag: string) => `MCP_SIDECAR_${flag.toUpperCase().replace(/-/g, '_')}`;

/** Splits argv into option values and the server command after `--`. */
function readArgv(argv: string[]): { values: Map<string, string[]>; command: string[] } {
  const values = new Map<string, string[]>();
  const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]));
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('--')) {
      throw new ConfigError(`unexpected argument "${arg}": put the MCP server command after "--", e.g. mcp-sidecar --port 8080 -- npx -y @modelcontextprotocol/server-memory`);
    }
    const eq = arg.indexOf('=');
    let flag = arg.slice(2, eq === -1 ? undefined : eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    let spec = byFlag.get(flag);
    if (!spec && flag.startsWith('no-') && byFlag.get(flag.slice(3))?.kind === 'bool') {
      flag = flag.slice(3);
      spec = byFlag.get(flag);
      value = 'false';
    }
    if (!spec) throw new ConfigError(`unknown option --${flag}; see --help`);
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`--${flag} needs a value (${spec.arg ?? spec.kind})`);
      }
    }
    values.set(flag, [...(values.get(flag) ?? []), value]);
  }
  return { values, command: argv.slice(i) };
}

/** The command the sidecar runs when none is given: the reference server, so `npm start` works at once. */
export function defaultCommand(): string[] {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
  return [process.execPath, entry, 'stdio'];
}

/** A service name from the command: the npm package or script it runs, or the program's own name. */
export function deriveName(command: string[]): string {
  const candidates = command.filter((part) => !part.startsWith('-'));
  let name = basename(candidates[0] ?? 'mcp-server');
  const pkg = candidates.map((c) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(c)?.[1] ?? (/^(@[^/]+\/)?[a-z0-9][\w.-]*(@[\w.-]+)?$/i.test(c) && c.includes('server') ? c : undefined)).find(Boolean);
  if (pkg) name = pkg.replace(/@[\w.-]+$/, '').replace(/^@[^/]+\//, '');
  else if (['node', 'python', 'python3', 'uv', 'uvx', 'npx', 'deno', 'bun'].includes(name) && candidates[1]) name = basename(candidates[1]);
  name = name.replace(/\.(m?js|cjs|ts|py)$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return name || 'mcp-server';
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv, readFile: (path: string) => string): Config {
  const { values, command } = readArgv(argv);
  const raw = (spec: OptionSpec): string[] => {
    const fromFlags = values.get(spec.flag);
    if (fromFlags) return fromFlags;
    const fromEnv = env[envName(spec.flag)] ?? (spec.env ? env[spec.env] : undefined);
    if (fromEnv !== undefined && fromEnv !== '') return spec.kind === 'list' ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean) : [fromEnv];
    return spec.default !== undefined ? [spec.default] : [];
  };
  const get = new Map<string, unknown>();
  for (const spec of OPTIONS) {
    const list = raw(spec);
    if (spec.kind === 'list') {
      get.set(spec.flag, list.flatMap((v) => (spec.flag === 'env' || spec.flag === 'tag' || spec.flag === 'pass-env' ? [v] : v.split(','))).map((v) => v.trim()).filter(Boolean));
      continue;
    }
    const text = list[list.length - 1];
    if (text === undefined) continue;
    if (spec.values && !spec.values.includes(text)) throw new ConfigError(`--${spec.flag}: "${text}" is not one of ${spec.values.join(', ')}`);
    switch (spec.kind) {
      case 'string':
        get.set(spec.flag, text);
        break;
      case 'int':
        get.set(spec.flag, parseInt10(text, spec.flag));
        break;
      case 'duration':
        get.set(spec.flag, parseDuration(text, spec.flag));
        break;
      case 'bytes':
        get.set(spec.flag, parseBytes(text, spec.flag));
        break;
      case 'bool':
        if (!['true', 'false', '1', '0', 'yes', 'no'].includes(text)) throw new ConfigError(`--${spec.flag}: "${text}" is not true or false`);
        get.set(spec.flag, ['true', '1', 'yes'].includes(text));
        break;
    }
  }
  const str = (f: string) => get.get(f) as string | undefined;
  const num = (f: string) => get.get(f) as number;
  const list = (f: string) => (get.get(f) as string[] | undefined) ?? [];

  const full = command.length > 0 ? command : defaultCommand();
  const childEnv: Record<string, string> = {};
  for (const pair of list('env')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--env "${pair}": use KEY=VALUE`);
    childEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const name = str('name') ?? deriveName(command.length > 0 ? command : ['@modelcontextprotocol/server-everything']);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new ConfigError(`--name "${name}": use letters, digits, dot, dash or underscore (it becomes a Consul service name and a Kong route)`);

  let advertise: Config['advertise'];
  const adv = str('advertise');
  if (adv) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(adv);
    if (!m) throw new ConfigError(`--advertise "${adv}": use host:port`);
    advertise = { host: m[1], port: Number(m[2]) };
  }

  const port = num('port');
  if (port > 65535) throw new ConfigError(`--port ${port}: not a TCP port`);
  const pingIntervalMs = num('ping-interval');

  let consul: Config['consul'];
  const consulUrl = str('consul');
  if (consulUrl) {
    const tokenFile = str('consul-token-file');
    let token = env.CONSUL_HTTP_TOKEN || undefined;
    if (tokenFile) {
      try {
        token = readFile(tokenFile).trim();
      } catch (err) {
        throw new ConfigError(`--consul-token-file ${tokenFile}: cannot read it (${(err as Error).message})`);
      }
    }
    const caFile = str('consul-ca-file');
    let ca: string | undefined;
    if (caFile) {
      try {
        ca = readFile(caFile);
      } catch (err) {
        throw new ConfigError(`--consul-ca-file ${caFile}: cannot read it (${(err as Error).message})`);
      }
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--consul-ca-file ${caFile}: not a PEM certificate (no "BEGIN CERTIFICATE" line)`);
    }
    const deregisterAfterMs = num('deregister-after');
    if (deregisterAfterMs < 60_000) throw new ConfigError('--deregister-after: Consul\'s minimum is 1m');
    consul = {
      url: /^https?:\/\//.test(consulUrl) ? consulUrl.replace(/\/$/, '') : `http://${consulUrl}`,
      token,
      ca,
      deregisterAfterMs,
      checkTtlMs: (get.get('check-ttl') as number | undefined) ?? Math.max(3 * pingIntervalMs, 1000),
      tags: list('tag'),
    };
  }
  const kongAdmin = str('kong-admin');
  const positive = (flag: string) => {
    if (num(flag) < 1) throw new ConfigError(`--${flag} must be at least 1`);
  };
  ['workers', 'ping-misses', 'crash-loop-restarts', 'max-sessions', 'max-depth', 'max-batch', 'max-connections', 'max-inflight', 'max-session-inflight'].forEach(positive);

  return {
    name,
    host: str('host')!,
    port,
    maxBodyBytes: num('max-body'),
    allowedHosts: list('allowed-hosts'),
    allowedOrigins: list('allowed-origins'),
    sessionIdleMs: num('session-idle'),
    keepAliveMs: num('keep-alive'),
    eventStoreEvents: num('event-store-events'),
    eventStoreBytes: num('event-store-bytes'),
    streamBufferBytes: num('stream-buffer'),
    maxDepth: num('max-depth'),
    maxBatch: num('max-batch'),
    headerTimeoutMs: num('header-timeout'),
    bodyTimeoutMs: num('body-timeout'),
    maxConnections: num('max-connections'),
    maxBodyReadingBytes: num('max-body-reading'),
    maxInflight: num('max-inflight'),
    maxSessionInflight: num('max-session-inflight'),
    readyWaitMs: num('ready-wait'),
    retryIdempotent: get.get('retry-idempotent') as boolean,
    sessionMode: str('session-mode') as Config['sessionMode'],
    workers: num('workers'),
    warm: num('warm'),
    maxSessions: num('max-sessions'),
    requestTimeoutMs: num('request-timeout'),
    command: full[0],
    args: full.slice(1),
    env: childEnv,
    passEnv: list('pass-env'),
    cwd: str('cwd'),
    maxMessageBytes: num('max-message'),
    handshakeTimeoutMs: num('handshake-timeout'),
    pingIntervalMs,
    pingTimeoutMs: num('ping-timeout'),
    pingMisses: num('ping-misses'),
    restartMinMs: num('restart-min'),
    restartMaxMs: num('restart-max'),
    crashLoopRestarts: num('crash-loop-restarts'),
    crashLoopWindowMs: num('crash-loop-window'),
    exitOnFailure: get.get('exit-on-failure') as boolean,
    shutdownGraceMs: num('shutdown-grace'),
    stopTimeoutMs: num('stop-timeout'),
    consul,
    serviceId: str('service-id'),
    advertise,
    kong: kongAdmin ? { adminUrl: kongAdmin.replace(/\/$/, ''), routePath: str('kong-route-path') } : undefined,
    logLevel: str('log-level')!,
    help: get.get('help') as boolean,
    version: get.get('version') as boolean,
  };
}

export function helpText(): string {
  const lines = [
    'mcp-sidecar: serve an MCP STDIO server over HTTP (Streamable HTTP at /mcp, REST at /tools) and publish it',
    'to Consul and Kong once it has really handshaken.',
    '',
    'Usage:',
    '  mcp-sidecar [options] -- <command> [args...]',
    '  mcp-sidecar kong-config --name <name> --advertise <host:port> [...]   print a decK file',
    '',
    'With no command it serves @modelcontextprotocol/server-everything.',
    '',
  ];
  let group = '';
  for (const o of OPTIONS) {
    if (o.group !== group) {
      group = o.group;
      lines.push(`${group}:`);
    }
    const left = `  --${o.flag}${o.arg ? ` <${o.arg}>` : ''}`;
    const def = o.default !== undefined && o.kind !== 'bool' ? ` [default: ${o.default}]` : '';
    const env = ` (env ${envName(o.flag)}${o.env ? ` or ${o.env}` : ''})`;
    lines.push(`${left.padEnd(34)} ${o.help}${def}${env}`);
  }
  lines.push(
    '',
    'Endpoints: POST/GET/DELETE /mcp, GET /tools, POST /tools/:name, GET /healthz, GET /readyz, GET /metrics',
    'Examples:',
    '  mcp-sidecar --port 8080 -- npx -y @modelcontextprotocol/server-memory',
    '  mcp-sidecar --name memory --host 0.0.0.0 --advertise 10.0.0.5:8080 \\',
    '    --consul http://127.0.0.1:8500 --kong-admin http://127.0.0.1:8001 -- npx -y @modelcontextprotocol/server-memory',
  );
  return lines.join('\n');
}
