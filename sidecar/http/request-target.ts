/**
 * The request line and Host read as RFC 9112 §3.2 asks, before any route is matched: more than one Host header is
 * a 400 (first-wins would let a proxy and this server see different hosts; so is a repeated Content-Type or
 * Authorization), and an absolute-form target
 * (`POST http://host/mcp`, §3.2.2) is routed by its path, its authority standing for Host, as a server MUST.
 */
import type { IncomingMessage } from 'node:http';
import { repeatedSingleHeader } from './header-lines.js';

/** `http(s)://authority` then the path and query: what a request line's absolute-form holds (no fragment). */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)$/i;

/**
 * Why the request's target or Host cannot be served (a 400), or undefined; an absolute-form target is rewritten
 * to its origin form and its authority becomes the Host that the Host/Origin guard checks.
 */
export function targetProblem(req: IncomingMessage): string | undefined {
  const repeated = repeatedSingleHeader(req);
  if (repeated === 'Host') return 'Bad Request: more than one Host header (RFC 9112 §3.2); send exactly one';
  if (repeated)
    return `Bad Request: more than one ${repeated} header (it is not a list, RFC 9110 §5.3); send exactly one`;
  const url = req.url;
  if (url === undefined || url.charCodeAt(0) === 47 /* / */) return undefined;
  const absolute = ABSOLUTE_FORM.exec(url);
  // `*` (OPTIONS) reaches the routes as it is, and no route matches it. Anything else is no target this server
  // takes: a fragment (never part of a request target), authority-form, another scheme.
  if (!absolute)
    return url === '*'
      ? undefined
      : `Bad Request: the request target ${JSON.stringify(url)} is neither a path nor an absolute http URI without a fragment (RFC 9112 §3.2)`;
  const [, authority, rest] = absolute;
  if (authority === '') return `Bad Request: the request target ${JSON.stringify(url)} names no host`;
  if (authority.includes('@'))
    return `Bad Request: the request target ${JSON.stringify(url)} carries userinfo, which http URIs may not (RFC 9110 §4.2.4)`;
  // §3.2.2: "the origin server MUST ignore the received Host header field … and instead use the host information of
  // the request-target".
  req.headers.host = authority;
  req.url = rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  return undefined;
}

/** Whether a path (with its query) is the MCP endpoint: `/mcp`, or `/mcp/` as express serves every route. */
export function isMcpPath(url: string | undefined): boolean {
  if (url === undefined || !url.startsWith('/mcp')) return false;
  const next = url.charCodeAt(4);
  if (Number.isNaN(next) || next === 63 /* ? */) return true;
  if (next !== 47 /* / */) return false;
  const after = url.charCodeAt(5);
  return Number.isNaN(after) || after === 63;
}
