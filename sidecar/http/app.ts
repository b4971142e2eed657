/** The HTTP face of the sidecar: routes only; protocol state lives in the router, health in the sidecar. */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { originGuard, type OriginPolicy } from './origin-guard.js';
import type { RestTools } from './rest-tools.js';
import type { StreamableHttp } from './streamable-http.js';

export interface Readiness {
  ready: boolean;
  body: Record<string, unknown>;
}

export interface AppParts {
  mcp: StreamableHttp;
  rest: RestTools;
  metrics: Metrics;
  readiness(): Readiness;
  liveness(): Record<string, unknown>;
  originPolicy: OriginPolicy;
  log: Logger;
}

export function createApp(parts: AppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // Counting by route (not by URL) keeps the label set bounded whatever clients send.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      const route = req.route?.path ?? 'unmatched';
      parts.metrics.httpRequests.labels(String(route), String(res.statusCode)).inc();
    });
    next();
  });

  const guard = originGuard(parts.originPolicy);
  app.post('/mcp', guard, parts.mcp.post);
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
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    parts.log.error({ err, path: req.path }, 'request failed inside the sidecar');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(500).json({ error: `internal error in mcp-sidecar: ${err.message}` });
  });
  return app;
}
