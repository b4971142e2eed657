/**
 * The book of calls in flight: puts a client's request on a worker as a Call (child id, timeout, the worker's
 * list of callers), and is the single place where a call stops being in flight (answered, failed, timed out,
 * cancelled), so metrics, timers and the per-session tables cannot disagree. A call of a readOnly/idempotent
 * tool whose server died is sent once more from here.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Call, type Outcome } from './call.js';
import { callerOf } from './caller.js';
import type { Channel } from './channel.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  type JsonRpcErrorObject,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from './jsonrpc.js';
import type { WorkerSource } from './pool.js';
import { toolNamed } from './profile.js';
import type { ReadyWait } from './ready-wait.js';
import type { Session } from './session.js';
import { unknownTool, type ToolPolicy } from './tool-policy.js';
import type { Worker } from './worker.js';
import { tracing } from '../tracing/tracing.js';

export interface InFlightOptions {
  requestTimeoutMs: number;
  /** Requests in flight at one server process: past it, a call is answered at once, never queued. */
  maxInflight: number;
  /** Send calls of readOnly/idempotent tools again once when the server died under them. */
  retryIdempotent: boolean;
  /** The tools that exist for callers (--tools-allow/--tools-deny, and per caller --tool-scope). */
  tools: ToolPolicy;
}

/**
 * The calls at one worker: an array in which each call knows its slot, so that adding and removing a call (twice
 * per call) allocate and hash nothing, where a Set grew, shrank and rehashed under a changing load.
 */
class CallList {
  readonly items: Call[] = [];

  add(call: Call): void {
    call.slot = this.items.length;
    this.items.push(call);
  }

  delete(call: Call): void {
    const slot = call.slot;
    if (this.items[slot] !== call) return; // not in this list
    const last = this.items.pop()!;
    if (last !== call) {
      this.items[slot] = last;
      last.slot = slot;
    }
    call.slot = -1;
  }
}

export class InFlight {
  /** Calls in flight, from dispatch until they stop being in flight. */
  count = 0;
  private readonly byWorker = new Map<Worker, CallList>();

  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly source: WorkerSource,
    private readonly readyWait: ReadyWait,
    private readonly metrics: Metrics,
    private readonly opts: InFlightOptions,
    private readonly log: Logger,
    /** A retried call's session is served by the process that took the call from now on (SessionTable.move). */
    private readonly moveSession: (session: Session, worker: Worker) => void,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, opts.requestTimeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Relays `request` to `worker` for `client`. Undefined when the worker is gone (the client was answered so). */
  dispatch(worker: Worker, client: Channel, session: Session | undefined, request: JsonRpcRequest): Call | undefined {
    // The per-process cap, for every caller alike (sessions, REST, modern requests): one burst must not make
    // everyone else's requests wait behind it.
    if (worker.inflight >= this.opts.maxInflight) {
      const why = `the MCP server process has ${worker.inflight} requests in flight (--max-inflight ${this.opts.maxInflight}); retry shortly`;
      client.send(this.overloaded(request.id, 'server', why), idKey(request.id));
      return undefined;
    }
    // An authenticated caller's subject is kept with its calls (never its token): the log says who called what.
    const caller = callerOf(request);
    if (caller?.sub !== undefined) {
      const name = request.params?.name;
      this.log.info(
        { sub: caller.sub, method: request.method, tool: typeof name === 'string' ? name : undefined },
        'call',
      );
    }
    // A tool the policy hides from this caller does not exist: the server never sees the call, the client gets a
    // server's answer.
    if (request.method === 'tools/call' && !this.opts.tools.allowsFor(request.params?.name, caller)) {
      client.send(unknownTool(request.id, request.params?.name), idKey(request.id));
      return undefined;
    }
    const tool = request.method === 'tools/call' ? toolNamed(worker.profile, request.params?.name) : undefined;
    // Only known tool names become metric labels: a client must not be able to grow the label set at will.
    const label = tool ? tool.name : request.method === 'tools/call' ? '(unknown)' : '';
    const call = new Call(
      this,
      client,
      session,
      worker,
      request.id,
      idKey(request.id),
      request.method,
      label,
      request.params?._meta?.progressToken,
      caller,
    );
    if (tool && this.opts.retryIdempotent && (tool.annotations?.readOnlyHint || tool.annotations?.idempotentHint))
      call.retryRequest = request;
    if (tracing) call.trace = tracing.call(call, request, this.source.mode);
    if (!this.send(worker, call, request)) {
      call.trace?.end('unavailable');
      client.send(this.unavailable(call.originalId), call.key);
      return undefined;
    }
    this.count++;
    return call;
  }

  /** A tools/list page from the server, with the tools hidden from this caller taken out (both protocol eras). */
  listed(result: Record<string, unknown> | undefined, call: Call): void {
    this.opts.tools.filterResult(result, call.caller);
    // A list that depends on the caller's token must not be kept by a shared cache (a gateway) for others.
    if (result && call.modern && this.opts.tools.scoped) result.cacheScope = 'private';
  }

  /** The call's timeout starts (again) now. */
  refresh(call: Call): void {
    call.deadline = performance.now() + this.opts.requestTimeoutMs;
  }

  /**
   * Timeouts without a timer per call: one sweep over the calls in flight, a few times per timeout. A timer per
   * call (set, cleared, allocated) was a measurable share of the hot path; a timeout may now fire up to a
   * quarter of --request-timeout late, which no client can tell from the server's own slowness.
   */
  private sweep(): void {
    const now = performance.now();
    for (const calls of this.byWorker.values()) {
      // Backwards: a call that times out leaves its slot to the last call, which was already looked at.
      for (let i = calls.items.length - 1; i >= 0; i--) {
        const call = calls.items[i];
        if (call !== undefined && call.deadline <= now) this.timedOut(call);
      }
    }
  }

  /** Stops the sweep (shutdown). */
  close(): void {
    clearInterval(this.sweeper);
  }

  /** Puts a call on a worker: child id, timeout, and the worker's list of callers. */
  private send(worker: Worker, call: Call, request: JsonRpcRequest): boolean {
    const childId = worker.dispatch(request, call);
    if (childId === undefined) return false;
    call.worker = worker;
    call.childId = childId;
    this.refresh(call);
    let calls = this.byWorker.get(worker);
    if (!calls) this.byWorker.set(worker, (calls = new CallList()));
    calls.add(call);
    return true;
  }

  /**
   * The call waits for its client (MRTR input), not for its server: --request-timeout stops counting (the
   * sweep never reaches an infinite deadline) until `refresh` when the call is at its server again.
   */
  pause(call: Call): void {
    call.deadline = Infinity;
  }

  /** The single place where a call stops being in flight. */
  finished(call: Call, outcome: Outcome): void {
    call.done = true;
    this.count--;
    this.byWorker.get(call.worker)?.delete(call);
    call.session?.inflight.delete(call.key);
    this.metrics.countCall(call.method, outcome);
    call.onfinish?.();
    if (call.trace) call.trace.end(outcome);
    if (outcome === 'ok' || outcome === 'error')
      this.metrics.observeCall(call.method, call.tool, (performance.now() - call.startedAt) / 1000);
  }

  /** Stops a call at the server (its client cancelled, its session ended, or the sidecar failed it). */
  cancel(call: Call, reason: string, outcome: Outcome = 'cancelled'): void {
    if (call.done) return;
    call.worker.cancel(call.childId, reason);
    this.finished(call, outcome);
  }

  private timedOut(call: Call): void {
    if (call.done) return;
    const seconds = this.opts.requestTimeoutMs / 1000;
    this.cancel(call, `timed out after ${seconds}s in mcp-sidecar`, 'timeout');
    call.client.send(
      errorResponse(
        call.originalId,
        ErrorCode.RequestTimeout,
        `the MCP server did not answer ${call.method} within ${seconds}s (--request-timeout); the sidecar cancelled it at the server`,
      ),
      call.key,
    );
  }

  /**
   * A call of a readOnly/idempotent tool was in flight when its server died. It is sent once more, as the client
   * sent it, to the next ready server (waiting --ready-wait for the restart); if none comes, the client gets the
   * original error.
   */
  retry(call: Call, error: JsonRpcErrorObject): void {
    const request = call.retryRequest!;
    call.retryRequest = undefined;
    this.byWorker.get(call.worker)?.delete(call);
    request.id = call.originalId;
    const meta = request.params?._meta;
    if (meta && call.progressToken !== undefined) meta.progressToken = call.progressToken;
    this.metrics.retries.inc();
    const workerFor = () => (call.session ? this.source.workerFor(call.session) : this.source.anyWorker());
    const resend = (ok: boolean): void => {
      if (call.done) return; // cancelled, timed out or its session closed while waiting
      const worker = ok ? workerFor() : undefined;
      if (worker && this.send(worker, call, request)) {
        if (call.session) this.moveSession(call.session, worker);
        return;
      }
      call.fail(error);
    };
    if (workerFor()) resend(true);
    else if (this.readyWait.possible()) this.readyWait.whenReady(resend);
    else resend(false);
  }

  /**
   * The callers with requests in flight on a worker, each with one of its calls: a session, or a session-less
   * call (modern or REST: each its own caller). A modern call parked for its client's input is left out: its
   * server is waiting for the answers it asked for, so what the server says now comes from another call.
   */
  callersOf(worker: Worker): Map<Session | Call, Call> {
    const callers = new Map<Session | Call, Call>();
    for (const call of this.byWorker.get(worker)?.items ?? [])
      if (!call.input?.parked) callers.set(call.session ?? call, call);
    return callers;
  }

  /** Whether a call on `worker` is parked for its client's input (MRTR): what the server says may be about it. */
  hasParked(worker: Worker): boolean {
    for (const call of this.byWorker.get(worker)?.items ?? []) if (call.input?.parked) return true;
    return false;
  }

  /** A worker is gone (its calls were failed by the worker itself). */
  workerGone(worker: Worker): void {
    this.byWorker.delete(worker);
  }

  /** The answer to a request past --max-inflight or --max-session-inflight (counted by limit). */
  overloaded(id: RequestId, limit: 'session' | 'server' | 'input', message: string): JsonRpcResponse {
    this.metrics.overloaded.labels(limit).inc();
    return errorResponse(id, ErrorCode.Overloaded, `mcp-sidecar is overloaded: ${message}`, { retryAfterSeconds: 1 });
  }

  unavailable(id: RequestId): JsonRpcResponse {
    const { reason, retryAfterSeconds } = this.source.unavailable();
    return errorResponse(id, ErrorCode.ServerUnavailable, `the MCP server is not available: ${reason}`, {
      retryAfterSeconds,
    });
  }
}
