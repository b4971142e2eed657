/**
 * How the Kong publisher reaches the Admin API: the URL checked, the credentials it sends (Kong Enterprise RBAC's
 * `Kong-Admin-Token`, from --kong-admin-token-file), the CA it trusts for an https:// Admin API (--kong-ca-file),
 * and what an operator should check when Kong refuses a request. The token is a header of the client and nothing
 * else: never in a message, a log line or a status.
 */
import { RegistryClient, type RegistryMethod } from './registry-client.js';

export interface KongAdminOptions {
  /** Kong Admin API, e.g. http://127.0.0.1:8001 (a path prefix is kept, for an Admin API behind a proxy). */
  adminUrl: string;
  /** Sent as `Kong-Admin-Token` (Kong Enterprise RBAC). Never logged. */
  adminToken?: string;
  /** PEM CA for an https:// Admin API whose certificate the system CAs do not vouch for. */
  ca?: string;
  /** Longest any one Admin API call may take (default 5 s). */
  requestTimeoutMs?: number;
}

export function kongAdminClient(opts: KongAdminOptions): RegistryClient {
  let url: URL;
  try {
    url = new URL(opts.adminUrl);
  } catch {
    throw new Error(
      `--kong-admin "${opts.adminUrl}" is not a URL: use Kong's Admin API address, e.g. http://127.0.0.1:8001`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`--kong-admin "${opts.adminUrl}": use an http:// or https:// URL, e.g. http://127.0.0.1:8001`);
  return new RegistryClient({
    url,
    timeoutMs: opts.requestTimeoutMs ?? 5000,
    ca: opts.ca,
    headers: opts.adminToken ? { 'kong-admin-token': opts.adminToken } : {},
    hint: (status, method) => adminHint(status, method, opts.adminToken !== undefined),
  });
}

/** What to check when the Admin API refuses a request. */
export function adminHint(status: number, method: RegistryMethod, withToken: boolean): string {
  if (status === 401 || status === 403) {
    return withToken
      ? ': Kong refused the Kong-Admin-Token of --kong-admin-token-file (unknown, or its RBAC role may not write services, routes, upstreams, targets and plugins of this workspace)'
      : ': this Admin API wants credentials; give an RBAC user token with --kong-admin-token-file (Kong Enterprise), or keep the open OSS Admin API on a private network or loopback';
  }
  if (status === 404 && method === 'PUT')
    return ': is --kong-admin the Admin API (port 8001) and not the proxy (port 8000)?';
  if (status === 400) return ': Kong rejected the entity (mcp-sidecar targets Kong Gateway 3.x in DB mode)';
  if (status === 405)
    return ': this Kong refuses writes (DB-less mode?); use `mcp-sidecar kong-config` to export a decK file instead';
  return '';
}
