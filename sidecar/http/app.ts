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
import { sendInternalError, sendJson, sendTransportError } from './reply.js';
import { isMcpPath, targetProblem } from './request-target.js';
import type { OpenApiRoute } from './openapi-route.js';
import type { RestTools } from './rest-tools.js';
import type { StreamableHttp } from './streamable-http.js';
import { STATUS_SCRIPT_PATH, statusRoutes } from './status-page/status-route.js';
import { tracing } from '../tracing/tracing.js';

export interface AppParts {
  mcp: StreamableHttp;
  rest: RestTools;
  /** GET /openapi.json: the REST facade described for the live tools. */
  openapi: OpenApiRoute;
  metrics: Metrics;
  readiness(): Readiness;
  liveness(): Record<string, unknown>;
  /** The status document: GET / as JSON, and what the status page shows. */
  status(): Record<string, unknown>;
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
  return rest.startsWith('/tools/') || isMcpPath(rest) ? rest : undefined;
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
  const status = statusRoutes(parts.status);
  return [
    { method: 'POST', path: '/mcp', guarded: true, handle: parts.mcp.post },
    { method: 'GET', path: '/mcp', guarded: true, handle: parts.mcp.get },
    { method: 'DELETE', path: '/mcp', guarded: true, handle: parts.mcp.delete },
    { method: 'GET', path: '/tools', guarded: true, handle: parts.rest.list },
    { method: 'POST', path: '/tools/:name', guarded: true, handle: parts.rest.call },
    // The status page shows the tools and calls them: guarded like /tools.
    { method: 'GET', path: '/', guarded: true, handle: status.root },
    { method: 'GET', path: STATUS_SCRIPT_PATH, guarded: true, handle: status.script },
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
  // One listener for every hot response, made once: a closure (and `once`'s wrapper) per request was garbage on
  // the hot path. A response knows its request (res.req).
  const hotFinished = function (this: ServerResponse): void {
    parts.metrics.countHttp(hot.path, this.statusCode);
    noteAnswered(this.req);
  };
  const hotFailed = (res: ServerResponse, err: Error) => internalError(parts, err, hot.path, res);
  return (req: IncomingMessage, res: ServerResponse) => {
    const problem = targetProblem(req);
    if (problem) return badTarget(parts, req, res, problem);
    if (prefix && req.url) req.url = unprefixed(req.url, prefix) ?? req.url;
    // `/mcp/` too: express serves every route with or without a trailing slash, so POST does as well.
    if (req.method === hot.method && isMcpPath(req.url)) {
      if (tracing) tracing.http(req, res, hot.path);
      res.on('finish', hotFinished);
      const admitted = admit(parts, req, res);
      if (admitted === true) return serveHot(hot, req, res, hotFailed);
      if (admitted !== false) void admitted.then((ok) => ok && serveHot(hot, req, res, hotFailed));
      return;
    }
    if (tracing) tracing.http(req, res, 'unmatched');
    app(req, res);
  };
}

/** A request whose target or Host cannot be served (request-target.ts): 400, before any route or guard. */
function badTarget(parts: AppParts, req: IncomingMessage, res: ServerResponse, problem: string): void {
  sendTransportError(res, 400, problem);
  parts.metrics.countHttp('unmatched', 400);
  noteAnswered(req);
}

/**
 * Runs the hot route's handler. It answers synchronously when it can (a session's call: no promise per request);
 * when it returns a promise (initialize, a session being adopted), a rejection is a bug of ours and gets a 500.
 */
function serveHot(
  route: Route,
  req: IncomingMessage,
  res: ServerResponse,
  failed: (res: ServerResponse, err: Error) => void,
): void {
  try {
    const pending = route.handle(req as Request, res as Response);
    if (pending instanceof Promise) pending.catch((err: Error) => failed(res, err));
  } catch (err) {
    failed(res, err as Error);
  }
}

/**
 * Whether a request may reach the MCP server: true at once, false when it was answered 403 (Host/Origin) or
 * 401/403 (--auth). A bearer token is checked at once; a JWT may wait for its issuer's keys (a promise then).
 * No callback to call back: the hot route must not build a closure per request to be admitted.
 */
function admit(parts: AppParts, req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
  const origin = originRefusal(parts.originPolicy, req);
  if (origin) {
    forbidden(res, origin);
    return false;
  }
  const auth = parts.auth?.refusal(req);
  if (auth === undefined) return true;
  if (!(auth instanceof Promise)) {
    unauthorized(res, auth);
    return false;
  }
  return auth.then(
    (refusal) => {
      if (refusal) unauthorized(res, refusal);
      return !refusal;
    },
    (err: Error) => {
      internalError(parts, err, req.url ?? '', res);
      return false;
    },
  );
}

function internalError(parts: AppParts, err: Error, path: string, res: ServerResponse): void {
  sendInternalError(parts.log, err, path, res);
}

function createApp(parts: AppParts, routes: Route[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Paths are case-sensitive (RFC 3986 §6.2.2.1), as Kong matches them: `/MCP` or `/TOOLS/x` served as `/mcp` and
  // `/tools/x` would pass around a per-tool Kong route and its plugins by the plain `/<name>` route.
  app.enable('case sensitive routing');

  // Counting by route (not by URL) keeps the label set bounded whatever clients send.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      parts.metrics.countHttp(String(req.route?.path ?? 'unmatched'), res.statusCode);
      noteAnswered(req);
    });
    next();
  });

  const guard = (req: Request, res: Response, next: NextFunction): void => {
    const admitted = admit(parts, req, res);
    if (admitted === true) next();
    else if (admitted !== false) void admitted.then((ok) => ok && next());
  };
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
