/**
 * Every way the sidecar answers over HTTP: JSON, a JSON-RPC error, and the headers of an SSE stream. One place,
 * so status, content-length and the error envelope cannot drift between routes. Every writer checks that nothing
 * was sent yet: a response that already went out is never written again, whatever path asks.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { ErrorCode } from '../mcp/jsonrpc.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx and friends buffer responses unless told not to; an SSE stream must flow.
  'x-accel-buffering': 'no',
};

/** Extra response headers: an object, or a flat list of names and values (one a session can keep and reuse). */
export type ExtraHeaders = Record<string, string> | readonly string[];

/**
 * Writes `text` as a complete JSON response, unless a response is already under way (then nothing). The headers
 * go to writeHead as one flat list (no object to build and spread per response), and the body to end() as a
 * string: node joins the status line, the headers and the body into one string and one socket write.
 */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers?: ExtraHeaders): void {
  if (res.headersSent || res.writableEnded) return;
  const length = Buffer.byteLength(text);
  // The common shapes as literals of their final size (a push past a literal's length reallocates it).
  let list: Array<string | number>;
  if (headers === undefined) list = ['content-type', 'application/json', 'content-length', length];
  else if (Array.isArray(headers) && headers.length === 2)
    list = ['content-type', 'application/json', 'content-length', length, headers[0], headers[1]];
  else {
    list = ['content-type', 'application/json', 'content-length', length];
    if (Array.isArray(headers)) for (let i = 0; i < headers.length; i++) list.push(headers[i]);
    else for (const name in headers) list.push(name, (headers as Record<string, string>)[name]);
  }
  res.writeHead(status, list);
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: ExtraHeaders): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** A bug of ours while serving `path`: logged, and the client gets a 500 (or the end of what was under way). */
export function sendInternalError(log: Logger, err: Error, path: string, res: ServerResponse): void {
  log.error({ err, path }, 'request failed inside the sidecar');
  if (res.headersSent) res.end();
  else sendJson(res, 500, { error: `internal error in mcp-sidecar: ${err.message}` });
}

/** A JSON-RPC error that belongs to no request (id null): transport-level refusals. */
export function sendRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): void {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  sendJson(res, status, { jsonrpc: '2.0', id: null, error }, headers);
}

/** The SDK's error envelope for HTTP-level refusals (403, 405, 406, 409, 415, …). */
export function sendTransportError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendRpcError(res, status, ErrorCode.TransportError, message, headers);
}
