/**
 * The HTTP face of the sidecar: one route table, served two ways. POST /mcp, which carries every MCP call, is
 * matched and served straight from node:http; every other route goes through express. Express's router and its
 * request/response decoration cost about a fifth of the sidecar's CPU per call in the benchmark's profile, and
 * the hot route needs none of it. Protocol state lives in the router, health in the Health object.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Readiness } from '../health.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { unauthorized, type Authenticator } from './auth-guard.js';
import { RESOURCE_METADATA_PATH } from './jwt-auth.js';
import { noteAnswered } from './http-server.js';
import { forbidden, originRefusal, type OriginPolicy } from './origin-guard.js';
import { sendJson, sendTransportError } from './reply.js';
import type { OpenApiRoute } from './openapi-route.js';
import type { RestTools } from './rest-tools.js';
import type { StreamableHttp } from './streamable-http.js';
import { tracing } from '../tracing/tracing.js';

export interface AppParts {
  mcp: StreamableHttp;
  rest: RestTools;
  /** GET /openapi.json: the REST facade described for the live tools. */
  openapi: OpenApiRoute;
  metrics: Metrics;
  readiness(): Readiness;
  liveness(): Record<string, unknown>;
  originPolicy: OriginPolicy;
  /** Who may call (--auth bearer); undefined = anyone who passes the Host/Origin check. */
  auth?: Authenticator;
  /** --auth jwt: the protected resource metadata served at RESOURCE_METADATA_PATH (RFC 9728). */
  resourceMetadata?: Record<string, unknown>;
  /**
   * --kong-per-tool-routes: Kong's route path (`/<name>`). Per-tool routes keep it in the path they forward (Kong
   * would strip the tool name with it), so `/<name>/tools/…` and `/<name>/mcp` are served as `/tools/…` and `/mcp`.
   */
  toolRoutePrefix?: string;
  log: Logger;
}

/** The path a per-tool Kong route forwards, as the sidecar serves it; undefined when it is not one. */
export function unprefixed(url: string, prefix: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  return rest.startsWith('/tools/') || rest === '/mcp' || rest.startsWith('/mcp?') ? rest : undefined;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** Host/Origin and the caller checked (DNS rebinding, cross-site, --auth): everything that reaches the MCP server. */
  guarded: boolean;
  handle(req: Request, res: Response): unknown;
}

/** Every route the sidecar serves; the first is the hot path. */
function routeTable(parts: AppParts): Route[] {
  const metadata = parts.resourceMetadata;
  const oauth: Route[] = metadata
    ? [
        {
          method: 'GET',
          path: RESOURCE_METADATA_PATH,
          guarded: false,
          handle: (_req, res) => sendJson(res, 200, metadata),
        },
      ]
    : [];
  return [
    { method: 'POST', path: '/mcp', guarded: true, handle: parts.mcp.post },
    { method: 'GET', path: '/mcp', guarded: true, handle: parts.mcp.get },
    { method: 'DELETE', path: '/mcp', guarded: true, handle: parts.mcp.delete },
    { method: 'GET', path: '/tools', guarded: true, handle: parts.rest.list },
    { method: 'POST', path: '/tools/:name', guarded: true, handle: parts.rest.call },
    // Guarded like /tools: it names the tools (and, with --tool-scope, the caller's).
    { method: 'GET', path: '/openapi.json', guarded: true, handle: parts.openapi.serve },
    { method: 'GET', path: '/healthz', guarded: false, handle: (_req, res) => sendJson(res, 200, parts.liveness()) },
    {
      method: 'GET',
      path: '/readyz',
      guarded: false,
      handle: (_req, res) => {
        const { ready, body } = parts.readiness();
        sendJson(res, ready ? 200 : 503, body);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      guarded: false,
      handle: async (_req, res) => {
        const text = await parts.metrics.registry.metrics();
        res.writeHead(200, {
          'content-type': parts.metrics.registry.contentType,
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      },
    },
    ...oauth,
  ];
}

export function createHandler(parts: AppParts): RequestListener {
  const [hot, ...rest] = routeTable(parts);
  const app = createApp(parts, rest);
  const prefix = parts.toolRoutePrefix;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (prefix && req.url) req.url = unprefixed(req.url, prefix) ?? req.url;
    if (req.method === hot.method && (req.url === hot.path || req.url?.startsWith(`${hot.path}?`))) {
      if (tracing) tracing.http(req, res, hot.path);
      return serveHot(parts, hot, req, res);
    }
    if (tracing) tracing.http(req, res, 'unmatched');
    app(req, res);
  };
}

function serveHot(parts: AppParts, route: Route, req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    parts.metrics.countHttp(route.path, res.statusCode);
    noteAnswered(req);
  });
  admit(parts, req, res, () =>
    Promise.resolve(route.handle(req as Request, res as Response)).catch((err: Error) =>
      internalError(parts, err, route.path, res),
    ),
  );
}

/**
 * Calls `next` when a request may reach the MCP server; else answers 403 (Host/Origin) or 401/403 (--auth). A
 * bearer token is checked at once; a JWT may wait for its issuer's keys.
 */
function admit(parts: AppParts, req: IncomingMessage, res: ServerResponse, next: () => unknown): void {
  const origin = originRefusal(parts.originPolicy, req);
  if (origin) return forbidden(res, origin);
  const auth = parts.auth?.refusal(req);
  if (auth === undefined) return void next();
  if (!(auth instanceof Promise)) return unauthorized(res, auth);
  auth.then(
    (refusal) => (refusal ? unauthorized(res, refusal) : next()),
    (err: Error) => internalError(parts, err, req.url ?? '', res),
  );
}

function internalError(parts: AppParts, err: Error, path: string, res: ServerResponse): void {
  parts.log.error({ err, path }, 'request failed inside the sidecar');
  if (res.headersSent) res.end();
  else sendJson(res, 500, { error: `internal error in mcp-sidecar: ${err.message}` });
}

function createApp(parts: AppParts, routes: Route[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // Counting by route (not by URL) keeps the label set bounded whatever clients send.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      parts.metrics.countHttp(String(req.route?.path ?? 'unmatched'), res.statusCode);
      noteAnswered(req);
    });
    next();
  });

  const guard = (req: Request, res: Response, next: NextFunction): void => admit(parts, req, res, next);
  for (const route of routes) {
    const verb = route.method === 'GET' ? 'get' : route.method === 'POST' ? 'post' : 'delete';
    if (route.guarded) app[verb](route.path, guard, route.handle);
    else app[verb](route.path, route.handle);
  }
  app.all('/mcp', (_req, res) =>
    sendTransportError(res, 405, 'Method Not Allowed: /mcp takes POST, GET and DELETE', { allow: 'GET, POST, DELETE' }),
  );
  app.use((req: Request, res: Response) => {
    sendJson(res, 404, {
      error: `no route ${req.method} ${req.path}`,
      routes: ['POST /mcp', ...routes.map((r) => `${r.method} ${r.path}`)],
    });
  });
  // Express 5 forwards rejected async handlers here: a bug of ours must still get a JSON answer and a log line.
  // The router throws a URIError of its own when a path parameter is not valid percent-encoding: the client's.
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof URIError && !res.headersSent) {
      return sendJson(res, 400, {
        error: `the path ${JSON.stringify(req.originalUrl)} is not valid percent-encoding (${err.message}); encode the tool name with encodeURIComponent`,
      });
    }
    internalError(parts, err, req.path, res);
  });
  return app;
}
