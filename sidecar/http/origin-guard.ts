/**
 * DNS-rebinding and cross-site protection for /mcp and /tools: the Host header must name this sidecar, and a
 * browser's Origin must be one we allow. Health and metrics are left open so probes that address the pod or
 * the advertised address by IP keep working.
 */
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

export function buildOriginPolicy(bindHost: string, advertiseHost: string | undefined, allowedHosts: string[], allowedOrigins: string[]): OriginPolicy {
  let hosts: Set<string> | undefined;
  if (allowedHosts.length > 0) hosts = new Set([...allowedHosts.map((h) => h.toLowerCase()), ...LOOPBACK]);
  else if (isLoopback(bindHost)) hosts = new Set([...LOOPBACK, ...(advertiseHost ? [advertiseHost.toLowerCase()] : [])]);
  return { allowedHosts: hosts, allowedOrigins: new Set(allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase())) };
}

function forbidden(res: Response, message: string): void {
  res.writeHead(403, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `Forbidden: ${message}` } }));
}

export function originGuard(policy: OriginPolicy) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const host = req.headers.host;
    if (policy.allowedHosts) {
      if (!host || !policy.allowedHosts.has(hostnameOf(host))) {
        return forbidden(res, `Host "${host ?? ''}" is not allowed (DNS rebinding protection); add it with --allowed-hosts`);
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return forbidden(res, `Origin "${origin}" is not a valid origin`);
      }
      const hostname = url.hostname.startsWith('[') ? url.hostname : url.hostname.toLowerCase();
      const sameHost = host !== undefined && hostnameOf(host) === hostname;
      const ok = policy.allowedOrigins.has(url.origin.toLowerCase()) || isLoopback(hostname) || (sameHost && !policy.allowedHosts) || (sameHost && policy.allowedHosts?.has(hostname));
      if (!ok) return forbidden(res, `Origin "${origin}" is not allowed; add it with --allowed-origins`);
    } else if (origin === 'null') {
      return forbidden(res, 'Origin "null" (sandboxed or file page) is not allowed');
    }
    next();
  };
}
