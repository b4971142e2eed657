/**
 * Raw MCP 2026-07-28 (modern, stateless) requests for tests: a POST with the `_meta` and headers the revision
 * requires, read to its messages (plain JSON or an SSE stream), and the two legs of a Multi Round-Trip Request.
 */
import { SseReader } from './harness.js';
import { readMessages, type JsonRpcMessage } from './sidecar-process.js';

export const MODERN = '2026-07-28';
export const meta = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  ...extra,
});

/** The headers and body of a modern request: what the transport page requires, headers overridable. */
function modernRequest(
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string>,
  id: number | string,
): { headers: Record<string, string>; body: Record<string, unknown> } {
  const named =
    method === 'tools/call' || method === 'prompts/get'
      ? params.name
      : method === 'resources/read'
        ? params.uri
        : undefined;
  return {
    headers: {
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      ...(named !== undefined ? { 'mcp-name': String(named) } : {}),
      ...headers,
    },
    body: { jsonrpc: '2.0', id, method, params: { ...params, _meta: meta(params._meta as Record<string, unknown>) } },
  };
}

/** A modern POST with the headers the transport page requires (overridable), read to its messages. */
export async function modern(
  url: string,
  method: string,
  params: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  id: number | string = 1,
  /** `signal` aborts the request; `onMessage` sees each message as it arrives (an SSE stream's, one by one). */
  opts: { signal?: AbortSignal; onMessage?(message: JsonRpcMessage): void } = {},
) {
  const request = modernRequest(method, params, headers, id);
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    signal: opts.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...request.headers,
    },
    body: JSON.stringify(request.body),
  });
  const messages: JsonRpcMessage[] = [];
  await readMessages(res, (m) => {
    messages.push(m);
    opts.onMessage?.(m);
  });
  return {
    status: res.status,
    headers: res.headers,
    messages,
    response: messages.find((m) => m.id === id && !('method' in m)),
  };
}

/**
 * A modern POST whose answer is read as it arrives (a subscriptions/listen stream, or a call's response stream
 * that the test closes midway): events in `.events`, the raw text with keep-alive comments in `.raw`.
 */
export function modernStream(
  url: string,
  method: string,
  params: Record<string, unknown> = {},
  id: number | string = 1,
): Promise<SseReader> {
  const request = modernRequest(method, params, {}, id);
  return SseReader.open(url, request.headers, request.body);
}
