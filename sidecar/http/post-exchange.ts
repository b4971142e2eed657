/**
 * A POST carrying requests: waits for their responses and answers with plain JSON if nothing else arrives first,
 * or switches to SSE when something related to a request (progress, a log line, a server request) shows up
 * before its response. Every way it ends removes all its keys from the session, so no later message can reach
 * a response that is already over.
 */
import type { ServerResponse } from 'node:http';
import {
  ErrorCode,
  idKey,
  toJson,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../mcp/jsonrpc.js';
import type { HttpSession } from './http-session.js';
import { sendJsonText } from './reply.js';
import { SseStream } from './sse-stream.js';

/** Seconds a client refused for overload should wait; short, since calls in flight finish in milliseconds. */
const OVERLOAD_RETRY_AFTER = '1';

export class PostExchange extends SseStream {
  private readonly ids = new Map<string | number, RequestId>();
  private readonly buffered: JsonRpcMessage[] = [];

  constructor(
    id: number,
    res: ServerResponse,
    http: HttpSession,
    requests: JsonRpcRequest[],
    private readonly batch: boolean,
    bigIds: boolean,
  ) {
    super(id, res, http);
    this.bigIds = bigIds;
    for (const r of requests) this.ids.set(idKey(r.id), r.id);
    // If the client goes away, its requests keep running (disconnect is not cancellation, per spec).
    this.watch(res);
  }

  keys(): IterableIterator<string | number> {
    return this.ids.keys();
  }

  /**
   * Whether a GET with Last-Event-ID may carry the rest of this exchange: only an SSE answer still owing
   * responses. (Its old connection may not have reported its close yet; the client has moved on all the same.)
   * A plain-JSON answer is owed to the connection that asked, and nothing may divert it.
   */
  resumable(): boolean {
    return this.sse && this.ids.size > 0;
  }

  deliver(message: JsonRpcMessage, key: string | number): void {
    const isResponse = 'id' in message && !('method' in message) && this.ids.has(key);
    if (isResponse) {
      this.ids.delete(key);
      this.forget(key);
    }
    if (!this.sse && this.open) {
      if (isResponse) {
        this.buffered.push(message);
        if (this.ids.size === 0) this.finishJson();
        return;
      }
      if (!this.startSse()) return;
      for (const m of this.buffered.splice(0)) this.event(m);
    }
    this.event(message);
    if (this.ids.size === 0) this.end();
  }

  /**
   * Answers requests that are not routed (refused before reaching the router): they go out with this exchange's
   * other answers and are never registered, so they cannot take over another request's stream.
   */
  answerNow(responses: JsonRpcResponse[]): void {
    if (responses.length === 0) return;
    this.buffered.push(...responses);
    if (this.ids.size === 0) this.finishJson();
  }

  abandon(key: string | number): void {
    this.ids.delete(key);
    this.forget(key);
    if (this.ids.size > 0) return;
    if (!this.sse && this.open && this.buffered.length > 0) return this.finishJson();
    this.startSse(); // nothing to answer: an empty stream that ends tells the client we are done
    this.end();
  }

  /** Fails what is still open (the session closed under it, or the sidecar failed to route it). */
  failRemaining(message: string, code: number = ErrorCode.ServerUnavailable): void {
    for (const [key, id] of [...this.ids]) this.deliver({ jsonrpc: '2.0', id, error: { code, message } }, key);
  }

  override end(): void {
    for (const key of this.ids.keys()) this.forget(key);
    this.ids.clear();
    super.end();
  }

  /** The session's key → exchange entry, removed only while it is still ours. */
  private forget(key: string | number): void {
    if (this.http.exchanges.get(key) === this) this.http.exchanges.delete(key);
  }

  private finishJson(): void {
    this.open = false;
    if (!this.res) return;
    const body = this.batch ? this.buffered : this.buffered[0];
    // A POST whose every answer is "overloaded" gets 503 + Retry-After, so gateways (Kong's passive health
    // checks) see overload for what it is instead of a 200.
    const overloaded =
      this.buffered.length > 0 &&
      this.buffered.every((m) => (m as JsonRpcResponse).error?.code === ErrorCode.Overloaded);
    const headers: Record<string, string> = { 'mcp-session-id': this.http.sessionId };
    if (overloaded) headers['retry-after'] = OVERLOAD_RETRY_AFTER;
    sendJsonText(this.res, overloaded ? 503 : 200, toJson(body, this.bigIds), headers);
  }
}
