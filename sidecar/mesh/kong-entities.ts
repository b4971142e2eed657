/**
 * The shapes of the Kong entities the sidecar writes (kong-state.ts fills them): exactly the fields Kong's request
 * schemas describe, checked by the contract tests against the Admin API's OpenAPI document.
 */

export interface KongUpstream {
  name: string;
  algorithm: 'consistent-hashing' | 'round-robin';
  hash_on: 'header' | 'none';
  hash_on_header?: string;
  hash_fallback: 'ip' | 'none';
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
  /** The session service's `/mcp`: what its route strips, the service puts back (kong-state.ts). */
  path?: string;
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
  /** The session route matches Mcp-Session-Id; per-tool routes for MCP clients Mcp-Name (kong-tool-routes.ts). */
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

/** One of the two paths through Kong: a service on an upstream, its route, and the upstream-auth plugin. */
export interface KongPath {
  upstream: KongUpstream;
  service: KongService;
  route: KongRoute;
  /** Present when Kong authenticates to the sidecars (--kong-upstream-token-file). */
  plugin?: KongPlugin;
}

export interface KongServerState {
  /** Everything without a session header, round-robin; per-tool routes join this service (kong-tool-routes.ts). */
  plain: KongPath;
  /** Legacy session traffic (an Mcp-Session-Id header on the MCP endpoint), hashed on that header. */
  session: KongPath;
}
