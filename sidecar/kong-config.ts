/**
 * `mcp-sidecar kong-config`: print the Kong state the publisher would converge on, as a decK file, for
 * DB-less Kong and GitOps users who apply Kong configuration from files instead of letting sidecars write it.
 * The entities come from mesh/kong-state.ts, the same functions the live publisher uses.
 */
import { stringify } from 'yaml';
import { childEnvironment } from './child/child-env.js';
import { createLogger } from './log.js';
import { SIDECAR_VERSION } from './instance.js';
import { handshakeOnce } from './mcp/one-handshake.js';
import { ToolPolicy } from './mcp/tool-policy.js';
import { AUTH } from './options/auth-options.js';
import { deckState, type DeclaredServer } from './mesh/kong-deck.js';
import { routePathFor } from './mesh/kong-state.js';
import { optionHelp } from './options/help.js';
import { list, text, toggle } from './options/option.js';
import { parseOptions } from './options/parse.js';
import { defaultServiceId } from './options/service-id.js';
import { checkName, checkRoutePath, ConfigError, parseHostPort, type HostPort } from './options/validate.js';

export interface KongConfigResult {
  exitCode: number;
  output: string;
}

const DEFAULT_PORT = 8080;

const OPTIONS = {
  names: list({
    flag: 'name',
    item: checkName,
    split: true,
    arg: 'name',
    help: 'an MCP server (repeatable, or a comma list); a name given twice is one server with two instances',
  }),
  advertise: list({
    flag: 'advertise',
    item: parseHostPort,
    split: true,
    arg: 'host:port',
    help:
      'where the sidecar of the matching --name is reached (repeatable; pairs with the names in order; ' +
      `default <name>:${DEFAULT_PORT}, as in docker-compose.yml)`,
  }),
  routePaths: list({
    flag: 'route-path',
    item: checkRoutePath,
    split: true,
    arg: '/path',
    help: 'route path of the matching --name (pairs like --advertise; default /<name>)',
  }),
  upstreamTokenEnv: text({
    flag: 'upstream-token-env',
    arg: 'DECK_NAME',
    help:
      'Kong sends the sidecars (--auth bearer) the token in this environment variable of decK: a request-transformer ' +
      'plugin per service, the file holds only the ${{ env "DECK_NAME" }} reference',
  }),
  perToolRoutes: toggle({
    flag: 'per-tool-routes',
    help:
      'also a route per tool (as --kong-per-tool-routes publishes them); the tools come from a handshake with the ' +
      'server command after "--" (one --name)',
  }),
  toolsAllow: AUTH.toolsAllow,
  toolsDeny: AUTH.toolsDeny,
  help: toggle({ flag: 'help', short: 'h', help: 'show this help' }),
};

const USAGE = {
  unknownHint:
    'kong-config takes --name, --advertise, --route-path, --upstream-token-env, --per-tool-routes, --tools-allow, --tools-deny and --help',
  strayHint:
    'every value follows a flag, e.g. --name memory; a server command comes after "--", with --per-tool-routes',
  takesCommand: true,
};

export function kongConfigHelp(): string {
  return [
    'mcp-sidecar kong-config: print a decK file (_format_version "3.0") with the Kong upstream, service, route and',
    'targets of each MCP server, the same state the sidecars publish through the Admin API.',
    '',
    'Usage:',
    '  mcp-sidecar kong-config --name <name> [--advertise <host:port>] [--route-path </path>] ...',
    '  mcp-sidecar kong-config --name <name> ... --per-tool-routes -- <server command> [args...]',
    '',
    ...optionHelp([['Options', OPTIONS]], { withEnv: false }),
    '',
    'Example:',
    '  mcp-sidecar kong-config --name everything,memory --advertise everything:8080,memory:8080 \\',
    '    --upstream-token-env DECK_MCP_UPSTREAM_TOKEN > kong.yaml',
    "  export DECK_MCP_UPSTREAM_TOKEN=$(cat token)   # the token of the sidecars' --auth-token-file",
    '  deck file validate kong.yaml && deck gateway sync kong.yaml',
  ].join('\n');
}

/** The servers the flags describe, in the order first named. */
export function declaredServers(names: string[], advertise: HostPort[], routePaths: string[]): DeclaredServer[] {
  if (names.length === 0) throw new ConfigError('give at least one --name (the MCP servers to describe)');
  pairsWithNames('--advertise', advertise, names, `<name>:${DEFAULT_PORT}`);
  pairsWithNames('--route-path', routePaths, names, '/<name>');
  const servers = new Map<string, DeclaredServer>();
  names.forEach((name, i) => {
    const { host, port } = advertise.length ? advertise[i] : { host: name, port: DEFAULT_PORT };
    const routePath = routePathFor(name, routePaths[i]);
    let server = servers.get(name);
    if (!server) {
      server = { name, routePath, instances: [] };
      servers.set(name, server);
    } else if (server.routePath !== routePath) {
      throw new ConfigError(
        `--name ${name} is given twice with different route paths (${server.routePath}, ${routePath}): one server has one route`,
      );
    }
    if (server.instances.some((x) => x.host === host && x.port === port)) {
      throw new ConfigError(`--name ${name} --advertise ${host}:${port} is given twice`);
    }
    // The sidecar's own default id (--service-id unset), so the target tags match what it publishes.
    server.instances.push({ serviceId: defaultServiceId(name, host, port), host, port });
  });
  const byPath = new Map<string, string>();
  for (const server of servers.values()) {
    const other = byPath.get(server.routePath!);
    if (other) {
      throw new ConfigError(
        `servers ${other} and ${server.name} would share route path ${server.routePath}; give one of them another --route-path`,
      );
    }
    byPath.set(server.routePath!, server.name);
  }
  return [...servers.values()];
}

/** A list that pairs with the names in order: one per name, or none for the default. */
function pairsWithNames(flag: string, given: unknown[], names: string[], fallback: string): void {
  if (given.length !== 0 && given.length !== names.length) {
    throw new ConfigError(
      `${given.length} ${flag} for ${names.length} --name: give one per name (they pair in order) or none (default ${fallback})`,
    );
  }
}

/**
 * The file for these flags. With --per-tool-routes the tools are those `learnTools` finds for the command after
 * "--" (a handshake, in kongConfigMain); the synchronous form takes them as given (undefined: none known).
 */
export function kongConfigCommand(argv: string[], tools?: string[]): KongConfigResult {
  try {
    const { values, command } = parseOptions(OPTIONS, argv, {}, USAGE);
    if (values.help) return { exitCode: 0, output: kongConfigHelp() };
    const servers = declaredServers(values.names, values.advertise, values.routePaths);
    if (values.perToolRoutes) {
      if (servers.length !== 1)
        throw new ConfigError(
          `--per-tool-routes routes the tools of one server (the command after "--"); run kong-config once per server (got ${servers.length})`,
        );
      if (command.length === 0)
        throw new ConfigError('--per-tool-routes needs the server command after "--": its tools come from a handshake');
      servers[0].tools = tools ?? [];
    } else if (command.length > 0) {
      throw new ConfigError(
        `unexpected argument "${command[0]}": a server command after "--" is only used with --per-tool-routes`,
      );
    }
    const tokenEnv = values.upstreamTokenEnv;
    if (tokenEnv !== undefined) {
      // decK substitutes only variables named DECK_*: any other name would reach Kong as literal text.
      if (!/^DECK_[A-Z0-9_]+$/.test(tokenEnv))
        throw new ConfigError(`--upstream-token-env "${tokenEnv}": decK reads only variables named DECK_<NAME>`);
      for (const server of servers) server.upstreamToken = `\${{ env "${tokenEnv}" }}`;
    }
    const summary = servers.map(
      (s) =>
        `${s.name} (${s.routePath}, ${s.instances.length} instance${s.instances.length === 1 ? '' : 's'}` +
        `${s.tools ? `, routes for ${s.tools.length} tool${s.tools.length === 1 ? '' : 's'}` : ''})`,
    );
    const header = [
      '# Kong configuration for mcp-sidecar (decK state file), printed by `mcp-sidecar kong-config`.',
      `# Servers: ${summary.join(', ')}.`,
      '# Check with `deck file validate`, apply with `deck gateway sync` (DB mode) or load into DB-less Kong.',
    ].join('\n');
    const deck = stringify(deckState(servers), { lineWidth: 0, aliasDuplicateObjects: false });
    return { exitCode: 0, output: `${header}\n${deck}` };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const hint = 'Run "mcp-sidecar kong-config --help" for the options.';
    return { exitCode: 2, output: `mcp-sidecar kong-config: ${err.message}\n${hint}` };
  }
}

/**
 * `mcp-sidecar kong-config`: with --per-tool-routes, first the tools the server lists (started, handshaken and
 * stopped, with --tools-allow/--tools-deny applied as a sidecar would), then the file.
 */
export async function kongConfigMain(argv: string[]): Promise<KongConfigResult> {
  const first = kongConfigCommand(argv);
  if (first.exitCode !== 0) return first;
  let parsed;
  try {
    parsed = parseOptions(OPTIONS, argv, {}, USAGE);
  } catch {
    return first;
  }
  const { values, command } = parsed;
  if (!values.perToolRoutes || values.help) return first;
  try {
    const profile = await handshakeOnce(
      {
        child: {
          command: command[0],
          args: command.slice(1),
          env: childEnvironment(process.env, [], {}),
          maxMessageBytes: 64 << 20,
        },
        handshakeTimeoutMs: 30_000,
        pingIntervalMs: 60_000,
        pingTimeoutMs: 5_000,
        pingMisses: 2,
        clientInfo: { name: 'mcp-sidecar kong-config', version: SIDECAR_VERSION },
        tools: new ToolPolicy(values.toolsAllow, values.toolsDeny),
      },
      createLogger('error'),
      2000,
    );
    return kongConfigCommand(
      argv,
      profile.tools.map((t) => t.name),
    );
  } catch (err) {
    return {
      exitCode: 1,
      output: `mcp-sidecar kong-config: the server (${command.join(' ')}) did not complete the handshake, so its tools are unknown: ${(err as Error).message}`,
    };
  }
}
