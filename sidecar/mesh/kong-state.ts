/**
 * The Kong state one MCP server wants, as pure data: the publisher upserts it through the Admin API and
 * `mcp-sidecar kong-config` prints it as a decK file, so the two can never describe different meshes.
 *
 * Per server `<name>` (shared by every instance of it), two paths through Kong:
 *   upstream `mcp-<name>-rr`       round-robin: requests without a session (2026-07-28 requests, legacy
 *                                  `initialize`, REST) need no affinity, so each goes to the next replica
 *   service  `mcp-<name>`          host = `mcp-<name>-rr`, long timeouts for SSE
 *   route    `mcp-<name>`          paths [/<name>], strip_path, no request/response buffering (SSE must flow)
 *   upstream `mcp-<name>`          consistent hashing on the Mcp-Session-Id header: a legacy session stays on one
 *                                  replica
 *   service  `mcp-<name>-session`  host = `mcp-<name>`, path `/mcp`, the same settings
 *   route    `mcp-<name>-session`  paths [/<name>/mcp] (the MCP endpoint, the only place sessions live), and only
 *                                  requests that carry an Mcp-Session-Id header; stripped, so the service path
 *                                  makes `/<name>/mcp` reach the sidecar as `/mcp`
 *   plugins  `<service>-upstream-auth` (with an upstream token) request-transformer on both services: Kong adds
 *                          `Authorization: Bearer <token>`, so the sidecars (--auth bearer) take calls from Kong only
 * Both upstreams have the same active checks on /readyz and passive checks as a circuit breaker.
 * Per instance:
 *   target `<advertiseHost>:<advertisePort>` in both upstreams.
 *
 * Bodies carry exactly the fields Kong's request schemas describe (checked by the contract tests against the
 * Admin API's OpenAPI document), with everything we rely on spelled out rather than left to Kong's defaults.
 */
import type { Instance } from './publisher.js';
import type { ServerProfile } from '../mcp/profile.js';
import type {
  KongPath,
  KongPlugin,
  KongRoute,
  KongServerState,
  KongService,
  KongTarget,
  KongUpstream,
} from './kong-entities.js';

export const MANAGED_BY_TAG = 'managed-by:mcp-sidecar';

// The entity shapes live in their own file; importers of the state keep finding them here.
export type * from './kong-entities.js';

/** The parts of an instance the Kong state depends on. */
export type KongInstance = Pick<Instance, 'name' | 'serviceId' | 'advertiseHost' | 'advertisePort'>;

/**
 * Kong-side name of a server's plain service and route and of its hashed upstream. An upstream name must be a
 * valid hostname, so the one character a sidecar name may have and a hostname may not (`_`) becomes `-`.
 */
export function kongEntityName(name: string): string {
  return `mcp-${name.replace(/_/g, '-')}`;
}

/** The round-robin upstream behind the plain service. */
export function roundRobinUpstreamName(name: string): string {
  return `${kongEntityName(name)}-rr`;
}

/** The service and route of legacy session traffic (on the hashed upstream `mcp-<name>`). */
export function sessionEntityName(name: string): string {
  return `${kongEntityName(name)}-session`;
}

/** Both upstreams of a server, each of which holds every instance's target: hashed first, then round-robin. */
export function kongUpstreamNames(name: string): [string, string] {
  return [kongEntityName(name), roundRobinUpstreamName(name)];
}

/** The route path: `--kong-route-path` if given (leading slash added), else `/<name>`. */
export function routePathFor(name: string, routePath?: string): string {
  const path = routePath && routePath.trim() !== '' ? routePath.trim() : `/${name}`;
  return path.startsWith('/') ? path : `/${path}`;
}

/** The server's MCP endpoint as clients reach it through Kong: `<route path>/mcp`. */
export function mcpPathFor(name: string, routePath?: string): string {
  return `${routePathFor(name, routePath).replace(/\/+$/, '')}/mcp`;
}

/** Where the sidecar serves MCP; the session service sends the stripped session route there. */
export const SIDECAR_MCP_PATH = '/mcp';

/**
 * Kong accepts tags of printable ASCII except `,` and `/` (it uses them as list and OR separators in
 * `?tags=` filters); anything else in a value is replaced so an odd service id can never make Kong say 400.
 */
export function kongTag(key: string, value: string): string {
  return `${key}:${value.replace(/[^\x21-\x7e]|[,/]/g, '_')}`;
}

/** Tags of every entity published for this server (by this instance, when one is named). */
export function kongTags(name: string, instanceId?: string): string[] {
  const tags = [MANAGED_BY_TAG, kongTag('mcp-server', name)];
  if (instanceId !== undefined) tags.push(kongTag('instance', instanceId));
  return tags;
}

/** `host:port` as Kong writes a target (IPv6 in brackets). */
export function targetAddress(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

/**
 * The entities every instance of a server shares. The `instance:` tag on them names the instance that last
 * upserted them (they are shared, so "owner" means "last writer"); clean-ups select by `mcp-server:` instead.
 * A declarative file names no instance (instanceId undefined).
 */
export function serverState(
  name: string,
  instanceId: string | undefined,
  routePath?: string,
  upstreamToken?: string,
): KongServerState {
  const tags = kongTags(name, instanceId);
  const paths = [routePathFor(name, routePath)];
  const hashed = kongEntityName(name);
  const roundRobin = roundRobinUpstreamName(name);
  const session = sessionEntityName(name);
  const path = (service: string, upstream: KongUpstream, route: KongRoute, servicePath?: string): KongPath => ({
    upstream,
    service: serviceState(service, upstream.name, tags, servicePath),
    route,
    ...(upstreamToken !== undefined && { plugin: upstreamAuthPlugin(service, tags, upstreamToken) }),
  });
  return {
    plain: path(
      hashed,
      {
        name: roundRobin,
        // Nothing on this path needs affinity: a 2026-07-28 request is answered by any replica, a legacy
        // `initialize` opens a session that any replica adopts later (sidecar/mcp/sessions.ts), REST is stateless.
        algorithm: 'round-robin',
        hash_on: 'none',
        hash_fallback: 'none',
        slots: 10000,
        healthchecks: HEALTHCHECKS,
        tags,
      },
      routeState(hashed, paths, tags),
    ),
    session: path(
      session,
      {
        name: hashed,
        // Affinity: a legacy session's requests hash to one instance.
        algorithm: 'consistent-hashing',
        hash_on: 'header',
        hash_on_header: 'Mcp-Session-Id',
        // Only requests that carry the header reach this upstream (the session route), so the fallback is a
        // safety net. Not `none`: its documented meaning, "weighted round-robin" (Kong PR #2875, the 0.12
        // load-balancing docs), holds for `hash_on: none` only. Under consistent-hashing Kong 3.x hashes a missing
        // value as "" (kong/runloop/balancer/init.lua: `get_value_to_hash(upstream, ctx) or ""`), so with `none`
        // every header-less request would go to one and the same target (Kong issue #14251, 3.7).
        hash_fallback: 'ip',
        slots: 10000,
        healthchecks: HEALTHCHECKS,
        tags,
      },
      // Kong route `headers`: "When headers contains only one value and that value starts with the special prefix
      // `~*`, the value is interpreted as a regular expression" (the Admin API document, Route). `.` matches any
      // non-empty value. Only the MCP endpoint, not the whole route path: sessions exist nowhere else, and a REST
      // call (`/<name>/tools/…`) that carries the header must still reach its per-tool route and the plugins on
      // service `mcp-<name>`. With paths and headers it outranks the plain route; a per-tool MCP route (two headers)
      // outranks it, but legacy clients send neither Mcp-Method nor Mcp-Name (Kong's route priority, see the
      // contract tests).
      routeState(session, [mcpPathFor(name, routePath)], tags, { 'Mcp-Session-Id': ['~*.'] }),
      // Stripping the whole matched path leaves "" (or "/…" after it): Kong's path handling (v0,
      // kong/router/utils.lua get_upstream_uri) then sends service path `/mcp` for `/<name>/mcp`, as the plain
      // route's stripped `/<name>` + `/mcp` does.
      SIDECAR_MCP_PATH,
    ),
  };
}

/**
 * Health checks of both upstreams (the same targets, so the same rules).
 */
const HEALTHCHECKS: KongUpstream['healthchecks'] = {
  active: {
    // /readyz is 200 only while the MCP server behind the sidecar has handshaken and answers pings, so
    // Kong stops routing to an instance whose child is down even if the sidecar could not withdraw.
    type: 'http',
    http_path: '/readyz',
    timeout: 2,
    concurrency: 10,
    healthy: { interval: 5, successes: 1, http_statuses: [200] },
    unhealthy: {
      interval: 5,
      http_failures: 2,
      tcp_failures: 2,
      timeouts: 2,
      http_statuses: [429, 404, 500, 501, 502, 503, 504, 505],
    },
  },
  passive: {
    // Circuit breaker on live traffic: a sidecar answering 503 (child restarting) or refusing connections
    // is taken out at once; the active check above puts it back when /readyz says ready again.
    type: 'http',
    healthy: { successes: 5, http_statuses: [200, 201, 202, 204] },
    unhealthy: { http_failures: 3, tcp_failures: 2, timeouts: 3, http_statuses: [500, 503] },
  },
  threshold: 0,
};

function serviceState(name: string, upstream: string, tags: string[], path?: string): KongService {
  return {
    name,
    protocol: 'http',
    host: upstream,
    // Ignored while `host` names an upstream (the targets carry the ports); set because the schema needs it.
    port: 8080,
    ...(path !== undefined && { path }),
    connect_timeout: 5000,
    // Between two reads or writes: SSE streams get keep-alive comments, but a POST answered with one JSON body
    // waits for the whole tool call (the sidecar's --request-timeout, 60 s by default).
    read_timeout: 600_000,
    write_timeout: 600_000,
    // Retries only re-send when a connection fails; a tool call that reached a sidecar is not replayed.
    retries: 2,
    enabled: true,
    tags,
  };
}

function routeState(name: string, paths: string[], tags: string[], headers?: KongRoute['headers']): KongRoute {
  return {
    name,
    protocols: ['http', 'https'],
    paths,
    ...(headers && { headers }),
    strip_path: true,
    preserve_host: false,
    path_handling: 'v0',
    https_redirect_status_code: 426,
    // Streamable HTTP answers with SSE: buffering would hold events until the stream ends.
    request_buffering: false,
    response_buffering: false,
    tags,
  };
}

/**
 * What makes Kong authenticate to the sidecars: on every request of the service, the client's own Authorization
 * header (meant for Kong, or for nobody) is removed and the sidecars' bearer token added. Kong's request-
 * transformer runs remove before add, so the upstream sees exactly one Authorization header, ours.
 */
export function upstreamAuthPlugin(service: string, tags: string[], token: string): KongPlugin {
  return {
    name: 'request-transformer',
    instance_name: `${service}-upstream-auth`,
    enabled: true,
    config: { remove: { headers: ['Authorization'] }, add: { headers: [`Authorization:Bearer ${token}`] } },
    tags,
  };
}

/**
 * This instance's target, the same in both upstreams. With a profile, a tag records the tool list it serves, so an
 * operator can see instances whose tools differ (a rolling upgrade) with `GET /upstreams/mcp-<name>/targets`.
 */
export function targetState(instance: KongInstance, profile?: ServerProfile): KongTarget {
  const tags = kongTags(instance.name, instance.serviceId);
  if (profile) tags.push(kongTag('mcp-tools', profile.toolsHash));
  return { target: targetAddress(instance.advertiseHost, instance.advertisePort), weight: 100, tags };
}
