/**
 * The sidecar's options, in the sections --help shows. Each key is the name of the value in `Config`
 * (config.ts), each entry says how the option is written and parsed; --help and the environment names
 * come from here too, so none of them can drift from the others.
 */
import { AUTH } from './auth-options.js';
import type { Section } from './help.js';
import { bytes, choice, duration, hostPort, int, list, routePath, text, toggle } from './option.js';
import { SERVING, SESSIONS } from './serving-options.js';
import { parseKeyValue } from './validate.js';

const PROCESS = {
  env: list({
    flag: 'env',
    item: parseKeyValue,
    arg: 'KEY=VAL',
    help: 'environment variable for the server (repeatable)',
  }),
  passEnv: list({
    flag: 'pass-env',
    arg: 'NAME',
    help: "pass this variable of the sidecar's environment to the server (repeatable; PATH, HOME, locale, proxies and a few more always pass)",
  }),
  cwd: text({ flag: 'cwd', arg: 'dir', help: 'working directory of the server' }),
  maxMessageBytes: bytes({
    flag: 'max-message',
    default: '64mb',
    arg: 'size',
    help: 'largest line accepted from the server stdout',
  }),
  handshakeTimeoutMs: duration({
    flag: 'handshake-timeout',
    default: '30s',
    arg: 'dur',
    help: 'time for initialize and the list requests',
  }),
  pingIntervalMs: duration({ flag: 'ping-interval', default: '10s', arg: 'dur', help: 'liveness MCP ping interval' }),
  pingTimeoutMs: duration({
    flag: 'ping-timeout',
    default: '5s',
    arg: 'dur',
    help: 'a ping unanswered this long is a miss',
  }),
  pingMisses: int({
    flag: 'ping-misses',
    min: 1,
    default: '2',
    arg: 'n',
    help: 'misses in a row after which the server counts as hung and is restarted',
  }),
  restartMinMs: duration({
    flag: 'restart-min',
    default: '250ms',
    arg: 'dur',
    help: 'first restart delay (doubles each failure, with jitter)',
  }),
  restartMaxMs: duration({ flag: 'restart-max', default: '30s', arg: 'dur', help: 'longest restart delay' }),
  crashLoopRestarts: int({
    flag: 'crash-loop-restarts',
    min: 1,
    default: '5',
    arg: 'n',
    help: 'failures within --crash-loop-window that stop restarting',
  }),
  crashLoopWindowMs: duration({
    flag: 'crash-loop-window',
    default: '60s',
    arg: 'dur',
    help: 'window for counting failures',
  }),
  exitOnFailure: toggle({
    flag: 'exit-on-failure',
    help: 'exit non-zero when the server crash-loops (let an orchestrator restart us)',
  }),
  shutdownGraceMs: duration({
    flag: 'shutdown-grace',
    default: '10s',
    arg: 'dur',
    help: 'on SIGTERM: time for in-flight requests to finish',
  }),
  stopTimeoutMs: duration({
    flag: 'stop-timeout',
    default: '2s',
    arg: 'dur',
    help: 'after closing stdin, and again after SIGTERM, before escalating',
  }),
};

const CONSUL = {
  consulUrl: text({
    flag: 'consul',
    env: 'CONSUL_HTTP_ADDR',
    arg: 'url',
    help: 'Consul agent address (enables registration)',
  }),
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
  checkTtlMs: duration({
    flag: 'check-ttl',
    arg: 'dur',
    help: 'TTL of the MCP ping check (default 3 x --ping-interval)',
  }),
  tags: list({ flag: 'tag', arg: 'tag', help: 'extra service tag (repeatable)' }),
};

const KONG = {
  kongAdminUrl: text({ flag: 'kong-admin', arg: 'url', help: 'Kong Admin API (enables route and target publishing)' }),
  kongRoutePath: routePath({ flag: 'kong-route-path', arg: 'path', help: 'route path (default /<name>)' }),
  kongPerToolRoutes: toggle({
    flag: 'kong-per-tool-routes',
    help:
      'besides the route /<name>, one Kong route per tool (/<name>/tools/<tool>, and /<name>/mcp with header Mcp-Name: <tool>) ' +
      'for per-tool plugins; created and removed as tools come and go; the sidecar then also serves /<name>/tools and /<name>/mcp',
  }),
  kongUpstreamTokenFile: text({
    flag: 'kong-upstream-token-file',
    arg: 'path',
    help: "file whose first line is the token Kong sends to the sidecars (Authorization: Bearer, Kong's request-transformer plugin on both services of the server)",
  }),
  kongAdminTokenFile: text({
    flag: 'kong-admin-token-file',
    arg: 'path',
    help: 'file with the token sent to the Admin API as Kong-Admin-Token (Kong Enterprise RBAC); never logged',
  }),
  kongCaFile: text({
    flag: 'kong-ca-file',
    arg: 'path',
    help: "PEM file of the CA that signed an https:// Admin API's certificate (default: the system CAs)",
  }),
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
  ['Authentication and policy', AUTH],
  ['MCP server process', PROCESS],
  ['Consul', CONSUL],
  ['Kong', KONG],
  ['Other', OTHER],
];

export const OPTIONS = { ...SERVING, ...SESSIONS, ...AUTH, ...PROCESS, ...CONSUL, ...KONG, ...OTHER };
