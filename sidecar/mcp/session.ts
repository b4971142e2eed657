/**
 * One MCP client session as the router sees it: who the client is, which worker serves it, its requests in
 * flight (keyed by the client's own ids), and the per-session state a shared server cannot keep apart.
 */
import { randomUUID } from 'node:crypto';
import type { JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, RequestId } from './jsonrpc.js';
import type { PendingCall, Worker } from './worker.js';
import type { JsonRpcErrorObject } from './jsonrpc.js';

/** How messages reach the client: implemented by the HTTP transport. */
export interface SessionSink {
  /** `related` is the key of the client request this message belongs to (its POST stream); none = session-wide. */
  deliver(message: JsonRpcMessage, related?: string | number): void;
  /** The client cancelled `related`: end its stream without a response. */
  abandon(related: string | number): void;
  /** The session is over (closed by the client, reaped, or the sidecar is stopping). */
  close(reason: string): void;
  /** A client is listening right now (an open stream): the session is not idle. */
  hasOpenStream(): boolean;
}

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Session ids carry a recognisable prefix so that, in shared mode, an instance can adopt a session another
 * instance of the same service issued (a gateway's hash ring may send it here; see Router.adoptSession).
 */
export const SESSION_ID_PREFIX = 'mcps1-';

export class Session {
  readonly id: string;
  lastActivity = Date.now();
  readonly inflight = new Map<string | number, RoutedCall>();
  logLevel: LogLevel | undefined;
  readonly subscriptions = new Set<string>();
  /** Answers and request-related messages go to the stream of the client request they belong to. */
  readonly owner: CallOwner = {
    respond: (call, response) => this.sink.deliver(response, call.key),
    related: (call, message) => this.sink.deliver(message, call.key),
  };

  constructor(
    readonly protocolVersion: string,
    readonly clientCapabilities: Record<string, unknown>,
    readonly clientInfo: unknown,
    public worker: Worker,
    readonly sink: SessionSink,
    id?: string,
  ) {
    this.id = id ?? SESSION_ID_PREFIX + randomUUID();
  }

  wantsLog(level: unknown): boolean {
    if (this.logLevel === undefined) return true;
    const index = LOG_LEVELS.indexOf(level as LogLevel);
    return index === -1 || index >= LOG_LEVELS.indexOf(this.logLevel);
  }
}

/** Who a routed call answers to: a session, or a one-shot REST caller. */
export interface CallOwner {
  respond(call: RoutedCall, response: JsonRpcResponse): void;
  related(call: RoutedCall, message: JsonRpcMessage): void;
}

/** Hooks the router gives every call so bookkeeping (metrics, timers, in-flight sets) lives in one place. */
export interface CallTracker {
  finished(call: RoutedCall, outcome: 'ok' | 'error' | 'timeout' | 'cancelled' | 'unavailable'): void;
  timedOut(call: RoutedCall): void;
  /** The server died under a call that may be sent again (see retryRequest). */
  retry(call: RoutedCall, error: JsonRpcErrorObject): void;
}

/** A client request relayed to a worker: remembers the client's id and progress token to put them back. */
export class RoutedCall implements PendingCall {
  childId = 0;
  timer: NodeJS.Timeout | undefined;
  readonly startedAt = performance.now();
  done = false;
  /** Kept only for calls of readOnly/idempotent tools: sent once more if the server dies under them. */
  retryRequest: JsonRpcRequest | undefined;

  constructor(
    readonly tracker: CallTracker,
    readonly owner: CallOwner,
    readonly session: Session | undefined,
    /** The worker the call is at (it changes once if the call is retried on a restarted server). */
    public worker: Worker,
    readonly originalId: RequestId,
    readonly key: string | number,
    readonly method: string,
    readonly tool: string,
    readonly progressToken: unknown,
  ) {}

  settle(response: JsonRpcResponse): void {
    if (this.done) return;
    this.tracker.finished(this, response.error ? 'error' : 'ok');
    response.id = this.originalId;
    this.owner.respond(this, response);
  }

  progress(notification: JsonRpcNotification): void {
    if (this.done) return;
    notification.params!.progressToken = this.progressToken as string | number;
    this.owner.related(this, notification);
    // Long work that reports progress is alive: give it a fresh timeout, as the SDK's resetTimeoutOnProgress does.
    this.timer?.refresh();
  }

  fail(error: JsonRpcErrorObject): void {
    if (this.done) return;
    if (this.retryRequest) return this.tracker.retry(this, error);
    this.tracker.finished(this, 'unavailable');
    this.owner.respond(this, { jsonrpc: '2.0', id: this.originalId, error });
  }
}
