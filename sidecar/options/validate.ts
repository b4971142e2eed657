/**
 * The checks both commands (the sidecar and `kong-config`) run on what an operator typed. Every function
 * takes the source of the text (`--port`, or `MCP_SIDECAR_PORT` when it came from the environment) so the
 * message names where the mistake is, and says what to write instead.
 */

/** A mistake in the command line or the environment: the command prints it and exits 2. */
export class ConfigError extends Error {}

export function parseDuration(text: string, source: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`${source}: "${text}" is not a duration; use e.g. 500ms, 10s, 1m`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};

export function parseBytes(text: string, source: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`${source}: "${text}" is not a size; use e.g. 512kb, 4mb`);
  return Math.round(Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]);
}

export function parseWholeNumber(text: string, source: string, min = 0): number {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(`${source}: "${text}" is not a whole number`);
  const n = Number(text);
  if (n < min) throw new ConfigError(`${source} must be at least ${min} (got ${n})`);
  return n;
}

export function parseBool(text: string, source: string): boolean {
  const value = { true: true, yes: true, 1: true, false: false, no: false, 0: false }[text.trim().toLowerCase()];
  if (value === undefined) throw new ConfigError(`${source}: "${text}" is not true or false`);
  return value;
}

export function parseChoice<V extends string>(text: string, source: string, values: readonly V[]): V {
  if (!(values as readonly string[]).includes(text)) {
    throw new ConfigError(`${source}: "${text}" is not one of ${values.join(', ')}`);
  }
  return text as V;
}

/** A TCP port; `min` 0 lets the OS pick one (for binding), 1 is the least a peer can connect to. */
export function parsePort(text: string, source: string, min = 0): number {
  const port = parseWholeNumber(text, source);
  if (port < min || port > 65535) throw new ConfigError(`${source} ${port}: not a TCP port (use ${min} to 65535)`);
  return port;
}

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`; the port one others can connect to (1 to 65535). */
export function parseHostPort(text: string, source: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+):(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(`${source} "${text}": use host:port with a port from 1 to 65535, e.g. memory:8080`);
  }
  return { host: m[1], port };
}

/** A service name: it becomes a Consul service name, a Kong entity name and (by default) a route path. */
export function checkName(name: string, source: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new ConfigError(
      `${source} "${name}": use letters, digits, dot, dash or underscore (it becomes a Consul service name and a Kong route)`,
    );
  }
  return name;
}

/** A Kong route path: URL path characters only (the leading slash may be left out). */
export function checkRoutePath(path: string, source: string): string {
  if (!/^\/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$/.test(path)) {
    throw new ConfigError(`${source} "${path}": use a URL path such as /memory (no spaces, "?" or "#")`);
  }
  return path;
}

/** An http(s) base URL; a bare `host:port` means http, as Consul's own CONSUL_HTTP_ADDR does. */
export function parseHttpUrl(text: string, source: string, example: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`${source} "${text}": not a URL; use e.g. ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${source} "${text}": use an http:// or https:// URL, e.g. ${example}`);
  }
  return withScheme.replace(/\/$/, '');
}

/** `KEY=VALUE` (the value may contain `=`). */
export function parseKeyValue(pair: string, source: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new ConfigError(`${source} "${pair}": use KEY=VALUE`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

/** The contents of a file an option names, or a message that says which option and why it cannot be read. */
export function readOptionFile(path: string, source: string, readFile: (path: string) => string): string {
  try {
    return readFile(path);
  } catch (err) {
    throw new ConfigError(`${source} ${path}: cannot read it (${(err as Error).message})`);
  }
}
