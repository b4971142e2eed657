/**
 * A tiny gateway for tests of replicas (Kong cannot run here): an HTTP proxy on 127.0.0.1 that sends each
 * request to the next of its targets, round-robin per MCP method (the `Mcp-Method` header), so that two
 * consecutive tools/call requests of one client land on two different replicas whatever else the client sends
 * in between. It records where each request went, and whether it carried a requestState (an MRTR retry).
 */
import { createServer, request, type Server } from 'node:http';
import type { TestContext } from 'node:test';

export interface Routed {
  method: string;
  /** The target's base URL. */
  target: string;
  retry: boolean;
}

export interface RoundRobinProxy {
  url: string;
  routed: Routed[];
}

export async function roundRobinProxy(t: TestContext, targets: string[]): Promise<RoundRobinProxy> {
  const routed: Routed[] = [];
  const turns = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = String(req.headers['mcp-method'] ?? req.method);
      const turn = turns.get(method) ?? 0;
      turns.set(method, turn + 1);
      const target = targets[turn % targets.length];
      routed.push({ method, target, retry: body.includes('"requestState"') });
      const { host: _host, ...headers } = req.headers;
      const out = request(`${target}${req.url}`, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', (err) => res.writeHead(502).end(String(err)));
      res.on('close', () => out.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    // Clients keep connections alive: close them, or close() waits for them.
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  server.unref();
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, routed };
}
