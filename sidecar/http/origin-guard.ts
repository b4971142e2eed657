/**
 * DNS-rebinding and cross-site protection for /mcp and /tools: the Host header must name this sidecar, and a
 * browser's Origin must be one we allow. Health and metrics are left open so probes that address the pod or
 * the advertised address by IP keep working.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

export interface OriginPolicy {
  /** Host names (no port) accepted in the Host header; undefined = any (sidecar bound to a non-loopback address). */
  allowedHosts: Set<string> | undefined;
  /** Full origins (scheme://host[:port]) accepted besides loopback and same-host origins. */
  allowedOrigins: Set<string>;
}

const LOOPBACK = ['localhost', '127.0.0.1', '::1', '[::1]'];

export function isLoopback(host: string): boolean {
  return LOOPBACK.includes(host) || host.startsWith('127.');
}

export function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return (colon === -1 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
}

/**
 * `ownNames`: names the mesh addresses this sidecar by (its advertised host; the Kong upstream `mcp-<name>`,
 * which Kong sends as Host since routes do not preserve the client's). They pass whenever Host is checked.
 */
export function buildOriginPolicy(bindHost: string, ownNames: string[], allowedHosts: string[], allowedOrigins: string[]): OriginPolicy {
  const own = ownNames.map((h) => h.toLowerCase());
  let hosts: Set<string> | undefined;
  if (allowedHosts.length > 0) hosts = new Set([...allowedHosts.map((h) => h.toLowerCase()), ...LOOPBACK, ...own]);
  else if (isLoopback(bindHost)) hosts = new Set([...LOOPBACK, ...own]);
  return { allowedHosts: hosts, allowedOrigins: new Set(allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase())) };
}

export function forbidden(res: ServerResponse, message: string): void {
  res.writeHead(403, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `Forbidden: ${message}` } }));
}

/** Why a request must be refused (Host or Origin not allowed), or undefined when it may pass. */
export function originRefusal(policy: OriginPolicy, req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (policy.allowedHosts) {
    if (!host || !policy.allowedHosts.has(hostnameOf(host))) {
      return `Host "${host ?? ''}" is not allowed (DNS rebinding protection); add it with --allowed-hosts`;
    }
  }
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'Origin "null" (sandboxed or file page) is not allowed';
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `Origin "${origin}" is not a valid origin`;
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname : url.hostname.toLowerCase();
  const sameHost = host !== undefined && hostnameOf(host) === hostname;
  const ok = policy.allowedOrigins.has(url.origin.toLowerCase()) || isLoopback(hostname) || (sameHost && !policy.allowedHosts) || (sameHost && policy.allowedHosts?.has(hostname));
  return ok ? undefined : `Origin "${origin}" is not allowed; add it with --allowed-origins`;
}

/** The same check as express middleware. */
export function originGuard(policy: OriginPolicy) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const refusal = originRefusal(policy, req);
    if (refusal) return forbidden(res, refusal);
    next();
  };
}
