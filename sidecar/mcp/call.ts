/**
 * One client request relayed to a server process, from dispatch to its answer: the client's id and progress token
 * (to put back), the child-side id, its timeout, where the answer goes, and the request itself when the call may
 * be sent again after a crash. The worker holds it by child id and reports what happens to it; the in-flight
 * book does the bookkeeping; the client channel gets the messages.
 */
import type { Caller } from './caller.js';
import type { Channel } from './channel.js';
import type { InFlight } from './in-flight.js';
import type { JsonRpcErrorObject, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, RequestId } from './jsonrpc.js';
import { LOG_LEVELS, type LogLevel, type Session } from './session.js';
import type { CallTrace } from '../tracing/tracing.js';
import type { Worker } from './worker.js';

/** A call in flight at the child, keyed by the child-side id the worker gave it. */
export interface PendingCall {
  answer(response: JsonRpcResponse): void;
  /** A `notifications/progress` whose token is this call's child id. */
  progress(notification: JsonRpcNotification): void;
  fail(error: JsonRpcErrorObject): void;
}

export type Outcome = 'ok' | 'error' | 'timeout' | 'cancelled' | 'unavailable';

export class Call implements PendingCall {
  childId = 0;
  /** When the call times out (performance.now() ms); the in-flight book's sweep checks it. */
  deadline = 0;
  readonly startedAt = performance.now();
  done = false;
  /** Its place in the in-flight book's list of its worker's calls (-1 when in none). */
  slot = -1;
  /** Kept only for calls of readOnly/idempotent tools: sent once more if the server dies under them. */
  retryRequest: JsonRpcRequest | undefined;
  /**
   * A stateless (2026-07-28) call: the client capabilities and the log level its `_meta` declared (the revision
   * sends log lines only to requests that ask for them, at or above their level).
   */
  modern: { capabilities: Record<string, unknown>; logLevel: LogLevel | undefined } | undefined;
  /**
   * A modern call whose server asked for input (elicitation, sampling, roots): its Multi Round-Trip state. While
   * it is parked the client has its InputRequiredResult and the call waits for the retry, which takes it over.
   */
  input: { parked: boolean; hold(response: JsonRpcResponse): void } | undefined;
  /** A modern call to a legacy server that may ask for input: the client's request and caller, until it does. */
  inputRequest: JsonRpcRequest | undefined;
  inputIdentity: string | undefined;
  /** Its spans, when tracing is on (OTEL_*). */
  trace: CallTrace | undefined;
  /** Told when the call stops being in flight, however it ends. */
  onfinish: (() => void) | undefined;

  constructor(
    private readonly book: InFlight,
    /** Where the answer and the request's related messages go (an MRTR retry takes the call over). */
    public client: Channel,
    /** The MCP session of the call; undefined for REST calls. */
    readonly session: Session | undefined,
    /** The worker the call is at (it changes once if the call is retried on a restarted server). */
    public worker: Worker,
    public originalId: RequestId,
    public key: string | number,
    readonly method: string,
    /** Metric label: the tool's name when the server lists it, else "(unknown)"; empty for other methods. */
    readonly tool: string,
    public progressToken: unknown,
    /** Who sent it (--auth jwt): a tools/list answer holds only the tools that exist for this caller. */
    readonly caller: Caller | undefined,
  ) {}

  /** Whether a server log line at `level` goes to this call's client. */
  wantsLog(level: unknown): boolean {
    if (this.session) return this.session.wantsLog(level);
    const wanted = this.modern?.logLevel;
    return wanted !== undefined && LOG_LEVELS.indexOf(level as LogLevel) >= LOG_LEVELS.indexOf(wanted);
  }

  answer(response: JsonRpcResponse): void {
    if (this.done) return;
    // A call waiting for its client's retry (MRTR) whose server answered anyway: the answer waits for the retry.
    if (this.input?.parked) return this.input.hold(response);
    if (this.trace) this.trace.answered(response);
    this.book.finished(this, response.error ? 'error' : 'ok');
    if (this.method === 'tools/list') this.book.listed(response.result, this);
    response.id = this.originalId;
    this.client.send(response, this.key);
  }

  progress(notification: JsonRpcNotification): void {
    // A call parked for its client's input (MRTR) has no request waiting on it, and --request-timeout is paused.
    if (this.done || this.input?.parked) return;
    // Long work that reports progress is alive: give it a fresh timeout, as the SDK's resetTimeoutOnProgress does.
    this.book.refresh(this);
    // The request waiting on the call now (an MRTR retry brings its own _meta) may not have asked for progress.
    if (this.progressToken === undefined) return;
    notification.params!.progressToken = this.progressToken as string | number;
    this.client.send(notification, this.key);
  }

  fail(error: JsonRpcErrorObject): void {
    if (this.done) return;
    if (this.retryRequest) return this.book.retry(this, error);
    this.book.finished(this, 'unavailable');
    this.client.send({ jsonrpc: '2.0', id: this.originalId, error }, this.key);
  }
}
