/** The HTTP face of the sidecar: routes only; protocol state lives in the router, health in the sidecar. */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Readiness } from '../health.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { noteAnswered } from './http-server.js';
import { forbidden, originGuard, originRefusal, type OriginPolicy } from './origin-guard.js';
import type { RestTools } from './rest-tools.js';
import type { StreamableHttp } from './streamable-http.js';


export interface AppParts {
  mcp: StreamableHttp;
  rest: RestTools;
  metrics: Metrics;
  readiness(): Readiness;
  liveness(): Record<string, unknown>;
  originPolicy: OriginPolicy;
  log: Logger;
}

/**
 * The sidecar's request handler. POST /mcp, which carries every MCP call, is served straight from node:http;
 * everything else goes through express. Express's router and its request/response decoration cost about a
 * fifth of the sidecar's CPU per call in the benchmark's profile, and this one route needs none of it.
 */
export function createHandler(parts: AppParts): RequestListener {
  const app = createApp(parts);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && (req.url === '/mcp' || req.url?.startsWith('/mcp?'))) return postMcp(parts, req, res);
    app(req, res);
  };
}

function postMcp(parts: AppParts, req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    parts.metrics.httpRequests.labels('/mcp', String(res.statusCode)).inc();
    noteAnswered(req);
  });
  const refusal = originRefusal(parts.originPolicy, req);
  if (refusal) return forbidden(res, refusal);
  parts.mcp.post(req, res).catch((err: Error) => internalError(parts, err, '/mcp', res));
}

function internalError(parts: AppParts, err: Error, path: string, res: ServerResponse): void {
  parts.log.error({ err, path }, 'request failed inside the sidecar');
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify({ error: `internal error in mcp-sidecar: ${err.message}` });
  res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function createApp(parts: AppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // Counting by route (not by URL) keeps the label set bounded whatever clients send.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      const route = req.route?.path ?? 'unmatched';
      parts.metrics.httpRequests.labels(String(route), String(res.statusCode)).inc();
      noteAnswered(req);
    });
    next();
  });

  const guard = originGuard(parts.originPolicy);
  // POST /mcp never gets here: createHandler serves it.
  app.get('/mcp', guard, parts.mcp.get);
  app.delete('/mcp', guard, parts.mcp.delete);
  app.all('/mcp', (_req, res) => {
    res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method Not Allowed: /mcp takes POST, GET and DELETE' } }));
  });

  app.get('/tools', guard, parts.rest.list);
  app.post('/tools/:name', guard, parts.rest.call);

  app.get('/healthz', (_req, res) => {
    res.json(parts.liveness());
  });
  app.get('/readyz', (_req, res) => {
    const { ready, body } = parts.readiness();
    res.status(ready ? 200 : 503).json(body);
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', parts.metrics.registry.contentType);
    res.end(await parts.metrics.registry.metrics());
  });

  app.use((req: Request, res: Response) => {
    res.status(404).json({
      error: `no route ${req.method} ${req.path}`,
      routes: ['POST/GET/DELETE /mcp', 'GET /tools', 'POST /tools/:name', 'GET /healthz', 'GET /readyz', 'GET /metrics'],
    });
  });
  // Express 5 forwards rejected async handlers here: a bug of ours must still get a JSON answer and a log line.
  // The router throws a URIError of its own when a path parameter is not valid percent-encoding: the client's.
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof URIError && !res.headersSent) {
      return res.status(400).json({ error: `the path ${JSON.stringify(req.originalUrl)} is not valid percent-encoding (${err.message}); encode the tool name with encodeURIComponent` });
    }
    internalError(parts, err, req.path, res);
  });
  return app;
}
