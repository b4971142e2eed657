/**
 * The answer to one modern (2026-07-28) request: a one-shot client channel. Plain JSON when only the response
 * comes; an SSE stream scoped to the request when progress or a log line comes first. No session, no event ids
 * (the revision has no resumption), and closing the stream cancels the request at the server.
 */
import type { ServerResponse } from 'node:http';
import type { Channel } from '../mcp/channel.js';
import { ErrorCode, kindOf, toJson, type JsonRpcMessage, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { ModernError } from '../mcp/modern.js';
import { SSE_HEADERS, sendJsonText } from './reply.js';
import type { StreamableHttp } from './streamable-http.js';

export class StatelessExchange implements Channel {
  private sse = false;
  private answered = false;
  /** Called when the client goes before the answer (set once the request is in flight). */
  onabandon?: () => void;

  constructor(
    private readonly res: ServerResponse,
    private readonly transport: StreamableHttp,
    /** Adds what the revision requires to a result (resultType, server identity, caching hints). */
    private readonly complete: (result: Record<string, unknown>) => void,
    private readonly bigIds: boolean,
  ) {
    res.on('close', () => {
      this.transport.streams.delete(res);
      if (!this.answered) this.onabandon?.();
    });
  }

  send(message: JsonRpcMessage): void {
    if (this.answered || this.res.writableEnded) return;
    if (kindOf(message) !== 'response') return this.event(message);
    this.answered = true;
    const response = message as JsonRpcResponse;
    if (response.result) this.complete(response.result);
    if (this.sse) {
      this.event(response);
      this.transport.streams.delete(this.res);
      this.res.end();
      return;
    }
    // A method the server does not implement is HTTP 404 in this revision (the body tells it from a missing endpoint).
    const status = statusOf(response.error?.code);
    sendJsonText(this.res, status, toJson(response, this.bigIds), status === 503 ? { 'retry-after': '1' } : {});
  }

  close(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  /** Progress or a log line before the response: the answer becomes an SSE stream. */
  private event(message: JsonRpcMessage): void {
    if (!this.sse) {
      if (this.res.headersSent) return;
      this.sse = true;
      this.res.writeHead(200, SSE_HEADERS);
      this.transport.streams.add(this.res);
    }
    this.transport.write(this, this.res, `event: message\ndata: ${toJson(message, this.bigIds)}\n\n`);
  }

  /** The client stopped reading past --stream-buffer: drop the connection (which cancels the request). */
  closeSlow(): void {
    this.res.destroy();
  }
}

/** HTTP statuses the revision gives JSON-RPC errors (the body still carries the error). */
function statusOf(code: number | undefined): number {
  switch (code) {
    case ErrorCode.MethodNotFound:
      return 404;
    case ModernError.MissingRequiredClientCapability:
      return 400;
    case ErrorCode.Overloaded:
      return 503;
    default:
      return 200;
  }
}
