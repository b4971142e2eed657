/**
 * `mcp-sidecar kong-config`: print the Kong state the publisher would converge on, as a decK file, for
 * DB-less Kong and GitOps users who apply Kong configuration from files instead of letting sidecars write it.
 * The entities come from mesh/kong-state.ts, the same functions the live publisher uses.
 */
import { stringify } from 'yaml';
import { deckState, routePathFor, type DeclaredServer } from './mesh/kong-state.js';

export interface KongConfigResult {
  exitCode: number;
  output: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const DEFAULT_PORT = 8080;

export function kongConfigHelp(): string {
  return [
    'mcp-sidecar kong-config: print a decK file (_format_version "3.0") with the Kong upstream, service, route and',
    'targets of each MCP server, the same state the sidecars publish through the Admin API.',
    '',
    'Usage:',
    '  mcp-sidecar kong-config --name <name> [--advertise <host:port>] [--route-path </path>] ...',
    '',
    'Options:',
    '  --name <name>[,<name>...]     an MCP server (repeatable, or a comma list); a name given twice is one',
    '                                server with two instances',
    '  --advertise <host:port>[,...] where the sidecar of the matching --name is reached (repeatable; pairs with',
    `                                the names in order; default <name>:${DEFAULT_PORT}, as in docker-compose.yml)`,
    '  --route-path </path>[,...]    route path of the matching --name (pairs like --advertise; default /<name>)',
    '  --help                        show this help',
    '',
    'Example:',
    '  mcp-sidecar kong-config --name everything,memory --advertise everything:8080,memory:8080 > kong.yaml',
    '  deck file validate kong.yaml && deck gateway sync kong.yaml',
  ].join('\n');
}

class UsageError extends Error {}

function readFlags(argv: string[]): { names: string[]; advertise: string[]; routePaths: string[]; help: boolean } {
  const lists = { name: [] as string[], advertise: [] as string[], 'route-path': [] as string[] };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}": every value follows a flag, e.g. --name memory`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    if (!(flag in lists)) throw new UsageError(`unknown option --${flag}; kong-config takes --name, --advertise, --route-path and --help`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${flag} needs a value`);
    const parts = value.split(',').map((v) => v.trim());
    if (parts.some((p) => p === '')) throw new UsageError(`--${flag} "${value}": empty item in the list`);
    lists[flag as keyof typeof lists].push(...parts);
  }
  return { names: lists.name, advertise: lists.advertise, routePaths: lists['route-path'], help };
}

function parseAdvertise(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--advertise "${text}": use host:port, e.g. memory:8080`);
  return { host: m[1], port };
}

/** The servers the flags describe, in the order first named. */
export function declaredServers(names: string[], advertise: string[], routePaths: string[]): DeclaredServer[] {
  if (names.length === 0) throw new UsageError('give at least one --name (the MCP servers to describe)');
  for (const name of names) {
    if (!NAME.test(name)) throw new UsageError(`--name "${name}": use letters, digits, dot, dash or underscore (as the sidecar's own --name)`);
  }
  if (advertise.length !== 0 && advertise.length !== names.length) {
    throw new UsageError(`${advertise.length} --advertise for ${names.length} --name: give one per name (they pair in order) or none (default <name>:${DEFAULT_PORT})`);
  }
  if (routePaths.length !== 0 && routePaths.length !== names.length) {
    throw new UsageError(`${routePaths.length} --route-path for ${names.length} --name: give one per name (they pair in order) or none (default /<name>)`);
  }
  const servers = new Map<string, DeclaredServer>();
  names.forEach((name, i) => {
    const { host, port } = advertise.length ? parseAdvertise(advertise[i]) : { host: name, port: DEFAULT_PORT };
    const routePath = routePaths.length ? routePathFor(name, routePaths[i]) : routePathFor(name);
    let server = servers.get(name);
    if (!server) {
      server = { name, routePath, instances: [] };
      servers.set(name, server);
    } else if (server.routePath !== routePath) {
      throw new UsageError(`--name ${name} is given twice with different route paths (${server.routePath}, ${routePath}): one server has one route`);
    }
    // The same default instance id as the sidecar's (--service-id unset), so tags match what it publishes.
    const serviceId = `${name}-${host}-${port}`.replace(/[^A-Za-z0-9_.-]/g, '-');
    if (server.instances.some((x) => x.host === host && x.port === port)) throw new UsageError(`--name ${name} --advertise ${host}:${port} is given twice`);
    server.instances.push({ serviceId, host, port });
  });
  const byPath = new Map<string, string>();
  for (const server of servers.values()) {
    const other = byPath.get(server.routePath!);
    if (other) throw new UsageError(`servers ${other} and ${server.name} would share route path ${server.routePath}; give one of them another --route-path`);
    byPath.set(server.routePath!, server.name);
  }
  return [...servers.values()];
}

export function kongConfigCommand(argv: string[]): KongConfigResult {
  try {
    const flags = readFlags(argv);
    if (flags.help) return { exitCode: 0, output: kongConfigHelp() };
    const servers = declaredServers(flags.names, flags.advertise, flags.routePaths);
    const header = [
      '# Kong configuration for mcp-sidecar (decK state file), printed by `mcp-sidecar kong-config`.',
      `# Servers: ${servers.map((s) => `${s.name} (${s.routePath}, ${s.instances.length} instance${s.instances.length === 1 ? '' : 's'})`).join(', ')}.`,
      '# Check with `deck file validate`, apply with `deck gateway sync` (DB mode) or load into DB-less Kong.',
    ].join('\n');
    return { exitCode: 0, output: `${header}\n${stringify(deckState(servers), { lineWidth: 0, aliasDuplicateObjects: false })}` };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return { exitCode: 2, output: `mcp-sidecar kong-config: ${err.message}\nRun "mcp-sidecar kong-config --help" for the options.` };
  }
}
