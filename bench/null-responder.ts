/**
 * The node:http floor: a bare node:http server that answers MCP initialize and `echo` calls with JSON at once and
 * does nothing else (no MCP server behind it, no routing; it parses the body only for the id and the message the
 * client checks). No bridge on Node's HTTP server can beat what it costs per request, and what the benchmark
 * reaches against it is also the most the client can push on this machine. Prints `listening <port>`.
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || !body) {
      res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      return;
    }
    const message = JSON.parse(body);
    if (message.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    const result =
      message.method === 'initialize'
        ? {
            protocolVersion: message.params.protocolVersion,
            capabilities: { tools: {} },
            serverInfo: { name: 'null-responder', version: '1' },
          }
        : { content: [{ type: 'text', text: `Echo: ${message.params?.arguments?.message ?? ''}` }] };
    const text = JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'mcp-session-id': 'null',
    });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
