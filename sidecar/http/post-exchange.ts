/**
 * A POST carrying requests: waits for their responses and answers with plain JSON if nothing else arrives first,
 * or switches to SSE when something related to a request (progress, a log line, a server request) shows up
 * before its response. Every way it ends removes all its keys from the session, so no later message can reach
 * a response that is already over.
 */
import type { ServerResponse } from 'node:http';
import {
  ErrorCode,
  errorResponse,
  idKey,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../mcp/jsonrpc.js';
import type { HttpSession } from './http-session.js';
import { idJson, toJson } from '../mcp/big-integers.js';
import { sendJsonText } from './reply.js';
import { SseStream } from './sse-stream.js';

/** Seconds a client refused for overload should wait; short, since calls in flight finish in milliseconds. */
const OVERLOAD_RETRY_AFTER = '1';

export class PostExchange extends SseStream {
  /**
   * The requests still owed an answer, by key. A lone request (nearly every POST) is held in two fields; only a
   * batch gets a map: a map per POST, filled and emptied within a millisecond, was garbage on the hot path.
   */
  private soleKey: string | number | undefined;
  private soleId: RequestId | undefined;
  private batchIds: Map<string | number, RequestId> | undefined;
  /** Answers kept for the plain-JSON reply (an array only once there is one). */
  private buffered: JsonRpcMessage[] | undefined;

  constructor(
    id: number,
    res: ServerResponse,
    http: HttpSession,
    requests: JsonRpcRequest[],
    private readonly batch: boolean,
  ) {
    super(id, res, http);
    if (requests.length === 1) {
      this.soleKey = idKey(requests[0].id);
      this.soleId = requests[0].id;
    } else if (requests.length > 1) {
      this.batchIds = new Map();
      for (const r of requests) this.batchIds.set(idKey(r.id), r.id);
    }
    // If the client goes away, its requests keep running (disconnect is not cancellation, per spec).
    this.watch(res);
  }

  /** How many requests are still owed an answer. */
  private get owed(): number {
    return this.batchIds ? this.batchIds.size : this.soleKey !== undefined ? 1 : 0;
  }

  private owes(key: string | number): boolean {
    return this.batchIds ? this.batchIds.has(key) : this.soleKey === key;
  }

  /** No longer owed (and no longer the session's to route to this exchange). */
  private settle(key: string | number): void {
    if (this.batchIds) this.batchIds.delete(key);
    else if (this.soleKey === key) this.soleKey = this.soleId = undefined;
    this.forget(key);
  }

  /** The requests still owed, as [key, id] pairs. */
  private owedPairs(): Array<[string | number, RequestId]> {
    if (this.batchIds) return [...this.batchIds];
    return this.soleKey === undefined ? [] : [[this.soleKey, this.soleId!]];
  }

  /** Tells the session which requests this exchange answers. */
  register(): void {
    for (const [key] of this.owedPairs()) this.http.exchanges.set(key, this);
  }

  /**
   * Whether a GET with Last-Event-ID may carry the rest of this exchange: only an SSE answer still owing
   * responses. (Its old connection may not have reported its close yet; the client has moved on all the same.)
   * A plain-JSON answer is owed to the connection that asked, and nothing may divert it.
   */
  resumable(): boolean {
    return this.sse && this.owed > 0;
  }

  deliver(message: JsonRpcMessage, key: string | number): void {
    const isResponse = 'id' in message && !('method' in message) && this.owes(key);
    if (isResponse) this.settle(key);
    if (!this.sse && this.open) {
      if (isResponse) {
        if (this.buffered) this.buffered.push(message);
        else this.buffered = [message];
        if (this.owed === 0) this.finishJson();
        return;
      }
      if (!this.startSse()) return;
      if (this.buffered) for (const m of this.buffered.splice(0)) this.event(m);
    }
    this.event(message);
    if (this.owed === 0) this.end();
  }

  /**
   * Answers requests that are not routed (refused before reaching the router): they go out with this exchange's
   * other answers and are never registered, so they cannot take over another request's stream.
   */
  answerNow(responses: JsonRpcResponse[]): void {
    if (responses.length === 0) return;
    (this.buffered ??= []).push(...responses);
    if (this.owed === 0) this.finishJson();
  }

  abandon(key: string | number): void {
    this.settle(key);
    if (this.owed > 0) return;
    if (!this.sse && this.open && this.buffered && this.buffered.length > 0) return this.finishJson();
    this.startSse(); // nothing to answer: an empty stream that ends tells the client we are done
    this.end();
  }

  /** Fails what is still open (the session closed under it, or the sidecar failed to route it). */
  failRemaining(message: string, code: number = ErrorCode.ServerUnavailable): void {
    for (const [key, id] of this.owedPairs()) this.deliver({ jsonrpc: '2.0', id, error: { code, message } }, key);
  }

  override end(): void {
    for (const [key] of this.owedPairs()) this.forget(key);
    this.batchIds?.clear();
    this.soleKey = this.soleId = undefined;
    super.end();
  }

  /** The session's key → exchange entry, removed only while it is still ours. */
  private forget(key: string | number): void {
    if (this.http.exchanges.get(key) === this) this.http.exchanges.delete(key);
  }

  private finishJson(): void {
    this.open = false;
    if (!this.res) return;
    const buffered = this.buffered ?? [];
    const body = this.batch ? buffered : buffered[0];
    // A POST whose every answer is "overloaded" gets 503 + Retry-After, so gateways (Kong's passive health
    // checks) see overload for what it is instead of a 200.
    let overloaded = buffered.length > 0;
    for (let i = 0; i < buffered.length && overloaded; i++)
      overloaded = (buffered[i] as JsonRpcResponse).error?.code === ErrorCode.Overloaded;
    const headers = this.http.idHeader;
    if (overloaded) sendJsonText(this.res, 503, toJson(body), [...headers, 'retry-after', OVERLOAD_RETRY_AFTER]);
    else sendJsonText(this.res, 200, toJson(body), headers);
  }
}

/**
 * The requests whose ids are free: a request whose id is already in flight in this session (on another POST or
 * earlier in this batch) is refused (into `refused`): registering it would hand the first request's answer to this
 * exchange, and the first POST would never be answered.
 */
export function freeIds(http: HttpSession, requests: JsonRpcRequest[], refused: JsonRpcResponse[]): JsonRpcRequest[] {
  const routed: JsonRpcRequest[] = [];
  const keys = new Set<string | number>();
  for (const request of requests) {
    const key = idKey(request.id);
    if (http.exchanges.has(key) || keys.has(key)) {
      refused.push(
        errorResponse(
          request.id,
          ErrorCode.InvalidRequest,
          `request id ${idJson(request.id)} is already in flight in this session; ids must be unique`,
        ),
      );
    } else {
      keys.add(key);
      routed.push(request);
    }
  }
  return routed;
}
