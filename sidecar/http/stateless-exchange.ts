/**
 * The answer to one modern (2026-07-28) request: a one-shot client channel. Plain JSON when only the response
 * comes; an SSE stream scoped to the request when progress or a log line comes first. No session, no event ids
 * (the revision has no resumption), and closing the stream cancels the request at the server.
 */
import type { ServerResponse } from 'node:http';
import type { Channel } from '../mcp/channel.js';
import type { Call } from '../mcp/call.js';
import { ErrorCode, kindOf, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import { toJson } from '../mcp/big-integers.js';
import { modernResponse } from '../mcp/modern.js';
import type { ServerProfile } from '../mcp/profile.js';
import type { Stateless } from '../mcp/stateless.js';
import { SSE_HEADERS, sendJsonText } from './reply.js';
import type { StreamableHttp } from './streamable-http.js';

const EXCHANGE = Symbol('stateless exchange');
type Answering = ServerResponse & { [EXCHANGE]?: StatelessExchange };

/** One listener for every modern response (a closure per request was garbage on the hot path). */
function onClose(this: Answering): void {
  this[EXCHANGE]?.closed();
}

export class StatelessExchange implements Channel {
  private sse = false;
  private answered = false;
  /** The request's call, once it is in flight: closing the response before the answer cancels it. */
  call: Call | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly transport: StreamableHttp,
    private readonly stateless: Stateless,
    /** The request and the server's profile: the answer is brought to what the revision requires (modernResponse). */
    private readonly request: JsonRpcRequest,
    private readonly profile: ServerProfile,
    private readonly listTtlMs: number,
  ) {
    (res as Answering)[EXCHANGE] = this;
    res.on('close', onClose);
  }

  /** The connection closed: before the answer, that is cancellation (MCP 2026-07-28). */
  closed(): void {
    this.transport.streams.delete(this.res);
    if (!this.answered && this.call) this.stateless.cancel(this.call);
  }

  send(message: JsonRpcMessage): void {
    if (this.answered || this.res.writableEnded) return;
    if (kindOf(message) !== 'response') return this.event(message);
    this.answered = true;
    const response = message as JsonRpcResponse;
    modernResponse(this.request, response, this.profile, this.listTtlMs);
    if (this.sse) {
      this.event(response);
      this.transport.streams.delete(this.res);
      this.res.end();
      return;
    }
    // A method the server does not implement is HTTP 404 in this revision (the body tells it from a missing endpoint).
    const status = statusOf(response.error?.code);
    sendJsonText(this.res, status, toJson(response), status === 503 ? RETRY_AFTER : undefined);
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
    this.transport.write(this, this.res, `event: message\ndata: ${toJson(message)}\n\n`);
  }

  /** The client stopped reading past --stream-buffer: drop the connection (which cancels the request). */
  closeSlow(): void {
    this.res.destroy();
  }
}

const RETRY_AFTER: readonly string[] = ['retry-after', '1'];

/** HTTP statuses the revision gives JSON-RPC errors (the body still carries the error). */
function statusOf(code: number | undefined): number {
  switch (code) {
    case ErrorCode.MethodNotFound:
      return 404;
    case ErrorCode.MissingRequiredClientCapability:
      return 400;
    case ErrorCode.Overloaded:
      return 503;
    default:
      return 200;
  }
}
