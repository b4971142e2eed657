/**
 * DNS-rebinding and cross-site protection for /mcp and /tools: the Host header must name this sidecar, and a
 * browser's Origin must be one we allow. Health and metrics are left open so probes that address the pod or
 * the advertised address by IP keep working.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { sendTransportError } from './reply.js';

export interface OriginPolicy {
  /** Host names (no port) accepted in the Host header; undefined = any (sidecar bound to a non-loopback address). */
  allowedHosts: Set<string> | undefined;
  /** Full origins (scheme://host[:port]) accepted besides loopback and same-host origins. */
  allowedOrigins: Set<string>;
}

/**
 * Whether `host` (a bare name or IP literal, no port) is this machine's loopback: an IPv4 literal in
 * 127.0.0.0/8 written as four decimal octets, `::1` (bracketed or not), or the name `localhost`. Parsed, never a
 * prefix: `127.attacker.example` and `localhost.evil.com` are names anyone can point anywhere, and hex or octal
 * forms (`0x7f.0.0.1`) are not what a browser sends, so they are refused rather than normalised.
 */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === '::1' || name === '[::1]') return true;
  const octets = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(name);
  return octets !== null && octets[1] === '127' && octets.slice(2).every((o) => Number(o) <= 255);
}

/** A host (name, IPv4 or bracketed IPv6) with an optional port: the whole of a Host header, the tail of an origin. */
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[^\s/\\:?#[\]@]+)(?::\d{1,5})?$/i;

/** The host of a `host[:port]` text, lowercased (IPv6 keeps its brackets); undefined when it is not one. */
export function hostnameOf(hostPort: string): string | undefined {
  return HOST_PORT.exec(hostPort)?.[1].toLowerCase();
}

/** The scheme and host of a serialized origin (`scheme://host[:port]`, nothing after it), or undefined. */
function parseOrigin(origin: string): { scheme: string; host: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(origin);
  const host = m ? hostnameOf(m[2]) : undefined;
  return m && host ? { scheme: m[1].toLowerCase(), host } : undefined;
}

/**
 * `ownNames`: names the mesh addresses this sidecar by (its advertised host; the Kong upstream `mcp-<name>`,
 * which Kong sends as Host since routes do not preserve the client's). They pass whenever Host is checked.
 */
export function buildOriginPolicy(
  bindHost: string,
  ownNames: string[],
  allowedHosts: string[],
  allowedOrigins: string[],
): OriginPolicy {
  const own = ownNames.map((h) => h.toLowerCase());
  let hosts: Set<string> | undefined;
  // Loopback names pass the Host check by isLoopback, so the set holds only the other names.
  if (allowedHosts.length > 0) hosts = new Set([...allowedHosts.map((h) => h.toLowerCase()), ...own]);
  else if (isLoopback(bindHost)) hosts = new Set(own);
  return {
    allowedHosts: hosts,
    allowedOrigins: new Set(allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase())),
  };
}

export function forbidden(res: ServerResponse, message: string): void {
  sendTransportError(res, 403, `Forbidden: ${message}`);
}

interface HostVerdict {
  policy: OriginPolicy | undefined;
  host: string | undefined;
  hostname: string | undefined;
  refusal: string | undefined;
}

let lastHost: HostVerdict = { policy: undefined, host: undefined, hostname: undefined, refusal: undefined };

function checkHost(policy: OriginPolicy, host: string | undefined): HostVerdict {
  const hostname = host === undefined ? undefined : hostnameOf(host);
  const refused =
    policy.allowedHosts && !(hostname !== undefined && (isLoopback(hostname) || policy.allowedHosts.has(hostname)));
  const refusal = refused
    ? `Host "${host ?? ''}" is not allowed (DNS rebinding protection); add it with --allowed-hosts`
    : undefined;
  return { policy, host, hostname, refusal };
}

/** Why a request must be refused (Host or Origin not allowed), or undefined when it may pass. */
export function originRefusal(policy: OriginPolicy, req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  // Every request of a client (and behind Kong, of every client) names the same host: the last verdict is kept,
  // so that the hot path does not run two regular expressions per request to reach it again.
  let checked = lastHost;
  if (checked.policy !== policy || checked.host !== host) checked = lastHost = checkHost(policy, host);
  if (checked.refusal) return checked.refusal;
  const hostname = checked.hostname;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'Origin "null" (sandboxed or file page) is not allowed';
  if (policy.allowedOrigins.has(origin.toLowerCase())) return undefined;
  const parsed = parseOrigin(origin);
  if (!parsed) return `Origin "${origin}" is not a valid origin (scheme://host[:port])`;
  // Loopback and same-host pages pass only as web pages: http or https.
  const web = parsed.scheme === 'http' || parsed.scheme === 'https';
  // The Host check above already vetted `hostname` whenever Host is checked at all.
  const sameHost = parsed.host === hostname;
  if (web && (isLoopback(parsed.host) || sameHost)) return undefined;
  return `Origin "${origin}" is not allowed; add it with --allowed-origins`;
}

/** The same check as express middleware. */
export function originGuard(policy: OriginPolicy) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const refusal = originRefusal(policy, req);
    if (refusal) return forbidden(res, refusal);
    next();
  };
}
