/**
 * The benchmark's modern client against a fake HTTP server that records what arrives: the wire format of a
 * stateless MCP 2026-07-28 tools/call (headers, body, _meta), and the answers that must fail the probe with a
 * reason (a legacy-only bridge's 400, a session id, a missing resultType) rather than count as calls.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import { Pool } from 'undici';
import { StatelessMcpClient } from '../../bench/stateless-client.js';

interface Seen {
  headers: IncomingHttpHeaders;
  body: any;
}

/** How the fake answers the next requests: given the parsed request, writes the response. */
let answer: (request: any, res: ServerResponse) => void;
const seen: Seen[] = [];
let server: Server;
let pool: Pool;

function echoResult(request: any, extra: Record<string, unknown> = { resultType: 'complete' }) {
  return {
    jsonrpc: '2.0',
    id: request.id,
    result: { content: [{ type: 'text', text: `Echo: ${request.params.arguments.message}` }], ...extra },
  };
}

function json(res: ServerResponse, status: number, message: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(message));
}

before(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text);
      seen.push({ headers: req.headers, body });
      answer(body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 2 });
});

after(async () => {
  await pool.close();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  answer = (request, res) => json(res, 200, echoResult(request));
});

const client = () => new StatelessMcpClient(pool, '/mcp', 5000);

test('every call is a stateless 2026-07-28 tools/call: version, method and name headers, _meta, no session', async () => {
  const c = client();
  await c.open();
  assert.equal(await c.echo('hello'), 'Echo: hello');
  assert.equal(seen.length, 2, 'the probe and the call, nothing else (no initialize)');
  seen.forEach((request, i) => {
    assert.equal(request.headers['mcp-protocol-version'], '2026-07-28');
    assert.equal(request.headers['mcp-method'], 'tools/call');
    assert.equal(request.headers['mcp-name'], 'echo');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers.accept, 'application/json, text/event-stream');
    assert.equal(request.headers['mcp-session-id'], undefined);
    assert.deepEqual(request.body, {
      jsonrpc: '2.0',
      id: i + 1,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { message: i === 0 ? 'probe-1' : 'hello' },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'mcp-sidecar-bench', version: '1' },
        },
      },
    });
  });
});

test('an answer on an SSE stream is read like a JSON one', async () => {
  answer = (request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: message\ndata: ${JSON.stringify(echoResult(request))}\n\n`);
  };
  assert.equal(await client().echo('over sse'), 'Echo: over sse');
});

test('a bridge that does not serve 2026-07-28 fails the probe with its own answer', async () => {
  answer = (request, res) =>
    json(res, 400, {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' },
    });
  await assert.rejects(
    client().open(),
    /stateless 2026-07-28 tools\/call echo: HTTP 400: .*Mcp-Session-Id header is required/,
  );
});

test('a probe answered within a session, or without resultType "complete", fails', async () => {
  answer = (request, res) => json(res, 200, echoResult(request), { 'mcp-session-id': 'abc' });
  await assert.rejects(client().open(), /answered with Mcp-Session-Id "abc"/);
  answer = (request, res) => json(res, 200, echoResult(request, {}));
  await assert.rejects(client().open(), /resultType undefined/);
});

test('a JSON-RPC error or a wrong echo is an error, not a call', async () => {
  answer = (request, res) =>
    json(res, 200, { jsonrpc: '2.0', id: request.id, error: { code: -32020, message: 'HeaderMismatch' } });
  await assert.rejects(client().echo('x'), /JSON-RPC error -32020: HeaderMismatch/);
  answer = (request, res) => json(res, 200, { ...echoResult(request), id: request.id + 1 });
  await assert.rejects(client().echo('x'), /no response for id 1/);
  answer = (request, res) =>
    json(res, 200, {
      jsonrpc: '2.0',
      id: request.id,
      result: { resultType: 'complete', content: [{ type: 'text', text: 'Echo: other' }] },
    });
  await assert.rejects(client().open(), /wrong reply: expected "Echo: probe-1"/);
});
