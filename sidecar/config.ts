/**
 * The sidecar's configuration: the option table (options/table.ts) parsed once, plus the few values that are
 * built from several options (the Consul and Kong groups, the server command and its environment) or derived
 * when not given (the service name, the check TTL).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type { ConsulPublisherOptions } from './mesh/consul.js';
import type { KongPublisherOptions } from './mesh/kong.js';
import { authConfig, readTokens, type AuthConfig } from './options/auth-options.js';
import { optionHelp } from './options/help.js';
import type { Values } from './options/option.js';
import { parseOptions } from './options/parse.js';
import { OPTIONS, SECTIONS } from './options/table.js';
import { ConfigError, parseHttpUrl, readOptionFile } from './options/validate.js';
import { routePathFor } from './mesh/kong-state.js';

type Parsed = Values<typeof OPTIONS>;
/** Omit that fails to compile when a key is not in the table (a renamed option, say). */
type Without<T, K extends keyof T> = Omit<T, K>;

/** Options that feed a group or a derived value below instead of a `Config` field of their own. */
type Built =
  | 'name'
  | 'env'
  | 'consulUrl'
  | 'consulTokenFile'
  | 'consulCaFile'
  | 'deregisterAfterMs'
  | 'checkTtlMs'
  | 'tags'
  | 'kongAdminUrl'
  | 'kongRoutePath'
  | 'stateKeyFile'
  | 'kongUpstreamTokenFile'
  | 'kongAdminTokenFile'
  | 'kongCaFile'
  | 'auth'
  | 'authTokenFile'
  | 'authIssuer'
  | 'authJwksUrl'
  | 'authResource'
  | 'authScopes';

/** Every other option of the table is a field of the same name and type. */
export interface Config extends Without<Parsed, Built> {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Who may call /mcp and /tools. */
  auth: AuthConfig;
  /** The publishers' own options, less what only the running sidecar knows. */
  consul?: Omit<ConsulPublisherOptions, 'readyzUrl'>;
  kong?: KongPublisherOptions;
  /** --kong-per-tool-routes: the Kong route path, which the per-tool routes keep (the sidecar serves it as an alias). */
  toolRoutePrefix?: string;
  /** The key that signs MRTR requestState (--state-key-file); undefined: a random one per process. */
  stateKey?: Buffer;
}

const USAGE = {
  unknownHint: 'see --help',
  strayHint:
    'put the MCP server command after "--", e.g. mcp-sidecar --port 8080 -- npx -y @modelcontextprotocol/server-memory',
  takesCommand: true,
};

/** The command the sidecar runs when none is given: the reference server, so `npm start` works at once. */
export function defaultCommand(): string[] {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
  return [process.execPath, entry, 'stdio'];
}

const RUNNERS = ['node', 'python', 'python3', 'uv', 'uvx', 'npx', 'deno', 'bun'];

/** A service name from the command: the npm package or script it runs, or the program's own name. */
export function deriveName(command: string[]): string {
  const candidates = command.filter((part) => !part.startsWith('-'));
  let name = basename(candidates[0] ?? 'mcp-server');
  const pkg = candidates.map(packageName).find(Boolean);
  if (pkg) name = pkg.replace(/@[\w.-]+$/, '').replace(/^@[^/]+\//, '');
  else if (RUNNERS.includes(name) && candidates[1]) name = basename(candidates[1]);
  name = name
    .replace(/\.(m?js|cjs|ts|py)$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return name || 'mcp-server';
}

/** The npm package a command part names: a path into node_modules, or a package spec that looks like a server. */
function packageName(part: string): string | undefined {
  const installed = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(part)?.[1];
  if (installed) return installed;
  return /^(@[^/]+\/)?[a-z0-9][\w.-]*(@[\w.-]+)?$/i.test(part) && part.includes('server') ? part : undefined;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv, readFile: (path: string) => string): Config {
  const { values, command } = parseOptions(OPTIONS, argv, env, USAGE);
  const {
    name,
    env: envPairs,
    consulUrl,
    consulTokenFile,
    consulCaFile,
    deregisterAfterMs,
    checkTtlMs,
    tags,
    ...rest
  } = values;
  const { kongAdminUrl, kongRoutePath, kongUpstreamTokenFile, kongAdminTokenFile, kongCaFile, ...kongless } = rest;
  const { stateKeyFile, ...withAuth } = kongless;
  const { auth, authTokenFile, authIssuer, authJwksUrl, authResource, authScopes, ...plain } = withAuth;
  const full = command.length > 0 ? command : defaultCommand();
  const serviceName = name ?? deriveName(command.length > 0 ? command : ['@modelcontextprotocol/server-everything']);
  for (const [file, flag] of [
    [kongUpstreamTokenFile, '--kong-upstream-token-file'],
    [kongAdminTokenFile, '--kong-admin-token-file'],
    [kongCaFile, '--kong-ca-file'],
  ]) {
    if (file && !kongAdminUrl) throw new ConfigError(`${flag} is for the Kong publisher; add --kong-admin <url>`);
  }
  return {
    ...plain,
    name: serviceName,
    command: full[0],
    args: full.slice(1),
    env: Object.fromEntries(envPairs),
    auth: authConfig(
      { auth, authTokenFile, authIssuer, authJwksUrl, authResource, authScopes, toolScopes: plain.toolScopes },
      plain.host,
      readFile,
    ),
    consul: consulUrl
      ? {
          url: parseHttpUrl(consulUrl, '--consul', 'http://127.0.0.1:8500'),
          token: consulToken(consulTokenFile, env, readFile),
          ca: consulCaFile ? readCa(consulCaFile, '--consul-ca-file', readFile) : undefined,
          deregisterAfterMs: atLeastOneMinute(deregisterAfterMs),
          checkTtlMs: checkTtlMs ?? Math.max(3 * plain.pingIntervalMs, 1000),
          tags,
        }
      : undefined,
    stateKey: stateKeyFile ? readStateKey(stateKeyFile, readFile) : undefined,
    toolRoutePrefix: plain.kongPerToolRoutes ? routePathFor(serviceName, kongRoutePath).replace(/\/+$/, '') : undefined,
    kong: kongAdminUrl
      ? {
          adminUrl: parseHttpUrl(kongAdminUrl, '--kong-admin', 'http://127.0.0.1:8001'),
          routePath: kongRoutePath,
          ...(plain.kongPerToolRoutes && { perToolRoutes: true }),
          ...(kongAdminTokenFile && {
            adminToken: readSecret(kongAdminTokenFile, '--kong-admin-token-file', readFile),
          }),
          ...(kongCaFile && { ca: readCa(kongCaFile, '--kong-ca-file', readFile) }),
          ...(kongUpstreamTokenFile && {
            upstreamToken: readTokens(kongUpstreamTokenFile, '--kong-upstream-token-file', readFile)[0],
          }),
        }
      : undefined,
  };
}

/**
 * The options of a run, for a subcommand that takes them (doctor, openapi): the Config, or the message to print
 * (exit 2) when they are wrong.
 */
export function parseRunOptions(argv: string[], subcommand: string): Config | string {
  try {
    return parseConfig(argv, process.env, (path) => readFileSync(path, 'utf8'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return `mcp-sidecar ${subcommand}: ${err.message}\nRun "mcp-sidecar ${subcommand} --help" for the options.`;
  }
}

function consulToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv, readFile: (path: string) => string) {
  return tokenFile ? readSecret(tokenFile, '--consul-token-file', readFile) : env.CONSUL_HTTP_TOKEN || undefined;
}

function readCa(caFile: string, flag: string, readFile: (path: string) => string): string {
  const ca = readOptionFile(caFile, flag, readFile);
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${flag} ${caFile}: not a PEM certificate (no "BEGIN CERTIFICATE" line)`);
  }
  return ca;
}

/** A credential in a file of its own: the whole file, less surrounding whitespace; the message never shows it. */
function readSecret(file: string, flag: string, readFile: (path: string) => string): string {
  const secret = readOptionFile(file, flag, readFile).trim();
  if (secret === '' || /\s/.test(secret))
    throw new ConfigError(`${flag} ${file}: write the token alone in the file (one line, no spaces)`);
  return secret;
}

/** A shared secret: at least 32 bytes, so that nobody guesses it (trailing newlines are not part of it). */
function readStateKey(file: string, readFile: (path: string) => string): Buffer {
  const key = Buffer.from(readOptionFile(file, '--state-key-file', readFile).trimEnd());
  if (key.length < 32)
    throw new ConfigError(
      `--state-key-file ${file}: ${key.length} bytes is too short a key; write 32 or more, e.g. openssl rand -hex 32 > ${file}`,
    );
  return key;
}

function atLeastOneMinute(deregisterAfterMs: number): number {
  if (deregisterAfterMs < 60_000) throw new ConfigError("--deregister-after: Consul's minimum is 1m");
  return deregisterAfterMs;
}

export function helpText(): string {
  return [
    'mcp-sidecar: serve an MCP STDIO server over HTTP (Streamable HTTP at /mcp, REST at /tools) and publish it',
    'to Consul and Kong once it has really handshaken.',
    '',
    'Usage:',
    '  mcp-sidecar [options] -- <command> [args...]',
    '  mcp-sidecar kong-config --name <name> --advertise <host:port> [...]   print a decK file',
    '  mcp-sidecar doctor [options] -- <command> [args...]                    check a set-up before running it',
    '  mcp-sidecar openapi [options] -- <command> [args...]                   print the OpenAPI document of /tools',
    '',
    'With no command it serves @modelcontextprotocol/server-everything.',
    '',
    ...optionHelp(SECTIONS, { withEnv: true }),
    '',
    'Endpoints: POST/GET/DELETE /mcp, GET /tools, POST /tools/:name, GET /openapi.json, GET /healthz, GET /readyz, GET /metrics',
    'Examples:',
    '  mcp-sidecar --port 8080 -- npx -y @modelcontextprotocol/server-memory',
    '  mcp-sidecar --name memory --host 0.0.0.0 --auth bearer --auth-token-file /run/secrets/token \\',
    '    --advertise 10.0.0.5:8080 --kong-upstream-token-file /run/secrets/token \\',
    '    --consul http://127.0.0.1:8500 --kong-admin http://127.0.0.1:8001 -- npx -y @modelcontextprotocol/server-memory',
  ].join('\n');
}
