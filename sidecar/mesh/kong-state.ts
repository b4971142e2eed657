/**
 * The Kong state one MCP server wants, as pure data: the publisher upserts it through the Admin API and
 * `mcp-sidecar kong-config` prints it as a decK file, so the two can never describe different meshes.
 *
 * Per server `<name>` (shared by every instance of it):
 *   upstream `mcp-<name>`  consistent hashing on the Mcp-Session-Id header (legacy sessions), client address
 *                          when it is missing (2026-07-28 requests, `initialize`), active checks on /readyz,
 *                          passive checks as a circuit breaker
 *   service  `mcp-<name>`  host = the upstream, long timeouts for SSE
 *   route    `mcp-<name>`  paths [/<name>], strip_path, no request/response buffering (SSE must flow)
 *   plugin   `mcp-<name>-upstream-auth` (with an upstream token) request-transformer on the service: Kong adds
 *                          `Authorization: Bearer <token>`, so the sidecars (--auth bearer) take calls from Kong only
 * Per instance:
 *   target `<advertiseHost>:<advertisePort>` in the upstream.
 *
 * Bodies carry exactly the fields Kong's request schemas describe (checked by the contract tests against the
 * Admin API's OpenAPI document), with everything we rely on spelled out rather than left to Kong's defaults.
 */
import type { Instance } from './publisher.js';
import type { ServerProfile } from '../mcp/profile.js';

export const MANAGED_BY_TAG = 'managed-by:mcp-sidecar';

export interface KongUpstream {
  name: string;
  algorithm: 'consistent-hashing';
  hash_on: 'header';
  hash_on_header: string;
  hash_fallback: 'ip';
  slots: number;
  healthchecks: {
    active: {
      type: 'http';
      http_path: string;
      timeout: number;
      concurrency: number;
      healthy: { interval: number; successes: number; http_statuses: number[] };
      unhealthy: {
        interval: number;
        http_failures: number;
        tcp_failures: number;
        timeouts: number;
        http_statuses: number[];
      };
    };
    passive: {
      type: 'http';
      healthy: { successes: number; http_statuses: number[] };
      unhealthy: { http_failures: number; tcp_failures: number; timeouts: number; http_statuses: number[] };
    };
    threshold: number;
  };
  tags: string[];
}

export interface KongService {
  name: string;
  protocol: 'http';
  host: string;
  port: number;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  retries: number;
  enabled: boolean;
  tags: string[];
}

export interface KongRoute {
  name: string;
  protocols: string[];
  paths: string[];
  /** Per-tool routes for MCP clients match the Mcp-Name header (kong-tool-routes.ts). */
  headers?: Record<string, string[]>;
  strip_path: boolean;
  preserve_host: boolean;
  path_handling: 'v0' | 'v1';
  https_redirect_status_code: number;
  request_buffering: boolean;
  response_buffering: boolean;
  tags: string[];
}

export interface KongTarget {
  target: string;
  weight: number;
  tags: string[];
}

/** Kong's request-transformer plugin, as much of it as the sidecar uses. */
export interface KongPlugin {
  name: 'request-transformer';
  instance_name: string;
  enabled: boolean;
  config: { remove: { headers: string[] }; add: { headers: string[] } };
  tags: string[];
}

export interface KongServerState {
  upstream: KongUpstream;
  service: KongService;
  route: KongRoute;
  /** Present when Kong authenticates to the sidecars (--kong-upstream-token-file). */
  plugin?: KongPlugin;
}

/** The parts of an instance the Kong state depends on. */
export type KongInstance = Pick<Instance, 'name' | 'serviceId' | 'advertiseHost' | 'advertisePort'>;

/**
 * Kong-side name of a server's upstream, service and route. An upstream name must be a valid hostname, so the
 * one character a sidecar name may have and a hostname may not (`_`) becomes `-`.
 */
export function kongEntityName(name: string): string {
  return `mcp-${name.replace(/_/g, '-')}`;
}

/** The route path: `--kong-route-path` if given (leading slash added), else `/<name>`. */
export function routePathFor(name: string, routePath?: string): string {
  const path = routePath && routePath.trim() !== '' ? routePath.trim() : `/${name}`;
  return path.startsWith('/') ? path : `/${path}`;
}

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
  const entity = kongEntityName(name);
  const tags = kongTags(name, instanceId);
  const state: KongServerState = {
    upstream: {
      name: entity,
      // Affinity: a legacy session's requests hash to one instance. `initialize` has no session id yet and lands
      // by client address; the sidecars adopt sessions opened by a peer, so a later hop elsewhere still works.
      algorithm: 'consistent-hashing',
      hash_on: 'header',
      hash_on_header: 'Mcp-Session-Id',
      // 2026-07-28 requests carry no Mcp-Session-Id and need no affinity (any replica answers any request). Not
      // `none`: its documented meaning, "weighted round-robin" (Kong PR #2875, the 0.12 load-balancing docs),
      // holds for `hash_on: none` only. Under consistent-hashing Kong 3.x hashes a missing value as ""
      // (kong/runloop/balancer/init.lua: `get_value_to_hash(upstream, ctx) or ""`), so with `none` every
      // header-less request of every client would go to one and the same target (Kong issue #14251, 3.7).
      // The client address spreads clients over the targets; one client's stateless requests stay on one.
      hash_fallback: 'ip',
      slots: 10000,
      healthchecks: {
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
      },
      tags,
    },
    service: {
      name: entity,
      protocol: 'http',
      host: entity,
      // Ignored while `host` names an upstream (the targets carry the ports); set because the schema needs it.
      port: 8080,
      connect_timeout: 5000,
      // Between two reads or writes: SSE streams get keep-alive comments, but a POST answered with one JSON body
      // waits for the whole tool call (the sidecar's --request-timeout, 60 s by default).
      read_timeout: 600_000,
      write_timeout: 600_000,
      // Retries only re-send when a connection fails; a tool call that reached a sidecar is not replayed.
      retries: 2,
      enabled: true,
      tags,
    },
    route: {
      name: entity,
      protocols: ['http', 'https'],
      paths: [routePathFor(name, routePath)],
      strip_path: true,
      preserve_host: false,
      path_handling: 'v0',
      https_redirect_status_code: 426,
      // Streamable HTTP answers with SSE: buffering would hold events until the stream ends.
      request_buffering: false,
      response_buffering: false,
      tags,
    },
  };
  if (upstreamToken !== undefined) state.plugin = upstreamAuthPlugin(entity, tags, upstreamToken);
  return state;
}

/**
 * What makes Kong authenticate to the sidecars: on every request of the service, the client's own Authorization
 * header (meant for Kong, or for nobody) is removed and the sidecars' bearer token added. Kong's request-
 * transformer runs remove before add, so the upstream sees exactly one Authorization header, ours.
 */
export function upstreamAuthPlugin(entity: string, tags: string[], token: string): KongPlugin {
  return {
    name: 'request-transformer',
    instance_name: `${entity}-upstream-auth`,
    enabled: true,
    config: { remove: { headers: ['Authorization'] }, add: { headers: [`Authorization:Bearer ${token}`] } },
    tags,
  };
}

/**
 * This instance's target. With a profile, a tag records the tool list it serves, so an operator can see
 * instances whose tools differ (a rolling upgrade) with `GET /upstreams/mcp-<name>/targets`.
 */
export function targetState(instance: KongInstance, profile?: ServerProfile): KongTarget {
  const tags = kongTags(instance.name, instance.serviceId);
  if (profile) tags.push(kongTag('mcp-tools', profile.toolsHash));
  return { target: targetAddress(instance.advertiseHost, instance.advertisePort), weight: 100, tags };
}
