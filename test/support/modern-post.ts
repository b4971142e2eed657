/**
 * Raw MCP 2026-07-28 (modern, stateless) requests for tests: a POST with the `_meta` and headers the revision
 * requires, read to its messages (plain JSON or an SSE stream).
 */
import { readMessages, type JsonRpcMessage } from './sidecar-process.js';

export const MODERN = '2026-07-28';
export const meta = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  ...extra,
});

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
  const named =
    method === 'tools/call' || method === 'prompts/get'
      ? params.name
      : method === 'resources/read'
        ? params.uri
        : undefined;
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    signal: opts.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      ...(named !== undefined ? { 'mcp-name': String(named) } : {}),
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: meta(params._meta as Record<string, unknown>) },
    }),
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
