/**
 * The router: many client sessions over few workers. It rewrites ids both ways, correlates responses, times
 * out and cancels requests, routes progress by token and other request-related messages by the request in
 * flight, relays server→client requests, and keeps per-session state a shared server cannot keep apart.
 * It knows nothing of HTTP (sessions talk through a SessionSink) or of registries.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  resultResponse,
  type JsonRpcErrorObject,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from './jsonrpc.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { paramsProblem } from './envelope.js';
import { LOG_LEVELS, RoutedCall, SESSION_ID_PREFIX, Session, type CallOwner, type CallTracker, type LogLevel, type SessionSink } from './session.js';
import type { Worker } from './worker.js';

/** Where sessions get their workers: one shared pool, or a process per session. */
export interface WorkerSource {
  readonly mode: 'shared' | 'isolated';
  /** A worker and the `initialize` result for a new session; throws NotReadyError when there is none. */
  openWorker(initialize: Record<string, unknown>): Promise<{ worker: Worker; result: Record<string, unknown> }>;
  /** The worker for a session's next request (its own if alive; in shared mode another ready one). */
  workerFor(session: Session): Worker | undefined;
  /** The session is over: isolated mode stops its process. */
  release(session: Session): void;
  /** Any ready worker, for session-less REST calls. */
  anyWorker(): Worker | undefined;
  /** Why no worker is available, for error messages; and when to retry. */
  unavailable(): { reason: string; retryAfterSeconds: number };
  /** Every supervisor gave up (crash loop): nothing will become ready by waiting. */
  failed(): boolean;
}

export class NotReadyError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export interface RouterOptions {
  requestTimeoutMs: number;
  sessionIdleMs: number;
  maxSessions: number;
  /** Requests in flight at one server process, and for one session (fairness: no client starves the rest). */
  maxInflight: number;
  maxSessionInflight: number;
  /** How long a request waits for a server that is starting or restarting (0 = fail at once). */
  readyWaitMs: number;
  /** Send calls of readOnly/idempotent tools again once when the server died under them. */
  retryIdempotent: boolean;
}

/** A request waiting for a server to become ready; `done(true)` when one is, `done(false)` when waiting is over. */
interface Waiter {
  timer: NodeJS.Timeout;
  done(ok: boolean): void;
}

const CAPABILITY_FOR_SERVER_REQUEST: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

interface ServerRequest {
  worker: Worker;
  childId: string | number;
  session: Session;
}

export class Router implements CallTracker {
  readonly sessions = new Map<string, Session>();
  /** Whether new sessions are refused (the sidecar is shutting down). */
  draining = false;
  private readonly callsByWorker = new Map<Worker, Set<RoutedCall>>();
  private readonly serverRequests = new Map<number, ServerRequest>();
  private nextServerRequestId = 1;
  private restCalls = 0;
  /** initialize requests between the session-limit check and the session's creation (isolated: spawning). */
  private opening = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly reaper: NodeJS.Timeout;
  /** Ids of sessions closed here, so a closed session answers 404 instead of being adopted again. */
  private readonly closedIds = new Set<string>();

  constructor(
    private readonly source: WorkerSource,
    private readonly opts: RouterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const sweep = Math.max(1000, Math.min(30_000, opts.sessionIdleMs / 4));
    this.reaper = setInterval(() => this.reapIdle(), sweep);
    this.reaper.unref();
  }

  get inflight(): number {
    let n = this.restCalls;
    for (const session of this.sessions.values()) n += session.inflight.size;
    return n;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  // ── waiting for a server that is starting or restarting (--ready-wait) ─────────────────────────────────────

  /** Whether waiting can help: the server is coming (not crash-looped) and the sidecar is not stopping. */
  private mayWait(): boolean {
    return this.opts.readyWaitMs > 0 && !this.draining && !this.source.failed();
  }

  private whenReady(done: (ok: boolean) => void): void {
    const waiter: Waiter = {
      timer: setTimeout(() => {
        this.waiters.delete(waiter);
        done(false);
      }, this.opts.readyWaitMs),
      done,
    };
    this.waiters.add(waiter);
  }

  private ready(): Promise<boolean> {
    return new Promise((resolve) => this.whenReady(resolve));
  }

  /** A server process is READY: every waiting request goes on. */
  workerUp(): void {
    this.releaseWaiters(true);
  }

  /** Waiting cannot help any more (crash loop, shutdown): every waiting request fails now, with the reason. */
  stopWaiting(): void {
    this.releaseWaiters(false);
  }

  private releaseWaiters(ok: boolean): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.done(ok);
    }
  }

  /** openWorker, waiting once for the server when it is down but coming back. */
  private async openWorker(params: Record<string, unknown>): Promise<{ worker: Worker; result: Record<string, unknown> }> {
    try {
      return await this.source.openWorker(params);
    } catch (err) {
      // Only "no server up" is worth waiting for; a session process that failed to start is not.
      if (!(err instanceof NotReadyError) || this.source.anyWorker() || !this.mayWait() || !(await this.ready())) throw err;
      return this.source.openWorker(params);
    }
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────────────────

  async openSession(initialize: JsonRpcRequest, sink: SessionSink): Promise<{ session: Session; response: JsonRpcResponse }> {
    if (this.draining) throw new NotReadyError('the sidecar is shutting down and takes no new sessions; connect to another instance', 5);
    // Sessions being opened count too: in isolated mode each one is a process being started, and the limit must
    // hold before the process exists, not after.
    if (this.sessions.size + this.opening >= this.opts.maxSessions) {
      throw new NotReadyError(`session limit reached (${this.opts.maxSessions}, --max-sessions); close idle sessions or add instances`, 5);
    }
    const params = initialize.params ?? {};
    this.opening++;
    let opened: { worker: Worker; result: Record<string, unknown> };
    try {
      opened = await this.openWorker(params);
    } finally {
      this.opening--;
    }
    const { worker, result } = opened;
    const session = new Session(
      String(result.protocolVersion),
      (params.capabilities ?? {}) as Record<string, unknown>,
      params.clientInfo,
      worker,
      sink,
    );
    this.sessions.set(session.id, session);
    this.log.debug({ session: session.id, client: params.clientInfo }, 'session opened');
    return { session, response: resultResponse(initialize.id, result) };
  }

  /**
   * Whether a session id this instance does not know may be adopted: only in shared mode (where a session is
   * nothing but bookkeeping over a shared process), only ids in our format, never one closed here.
   */
  canAdopt(id: string): boolean {
    return this.source.mode === 'shared' && !this.draining && id.startsWith(SESSION_ID_PREFIX) && id.length <= 100 && !this.closedIds.has(id);
  }

  /**
   * Takes over a session another instance of this service opened. Behind Kong, `initialize` carries no
   * Mcp-Session-Id and lands by the fallback, while later requests hash on the id and may land here; in shared
   * mode this instance can serve them as well as the first one. What the first instance knew of the client
   * (its capabilities) is not known here, so server→client requests for an adopted session are refused with
   * an error rather than sent to a client that may not handle them.
   */
  async adoptSession(id: string, protocolVersion: string, sink: SessionSink): Promise<Session> {
    if (this.sessions.size + this.opening >= this.opts.maxSessions) {
      throw new NotReadyError(`session limit reached (${this.opts.maxSessions}, --max-sessions); close idle sessions or add instances`, 5);
    }
    const { worker } = await this.openWorker({ protocolVersion });
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const session = new Session(protocolVersion, {}, undefined, worker, sink, id);
    this.sessions.set(id, session);
    this.log.info({ session: id }, 'adopted a session opened by another instance of this service (gateway routing)');
    return session;
  }

  closeSession(session: Session, reason: string): void {
    if (!this.sessions.delete(session.id)) return;
    this.closedIds.add(session.id);
    // Bounded: the oldest closed ids are forgotten first (a Set iterates in insertion order).
    if (this.closedIds.size > 10_000) this.closedIds.delete(this.closedIds.values().next().value!);
    for (const call of [...session.inflight.values()]) {
      call.worker.cancel(call.childId, `client session ended: ${reason}`);
      this.finished(call, 'cancelled');
    }
    for (const [id, request] of this.serverRequests) {
      if (request.session === session) {
        this.serverRequests.delete(id);
        request.worker.send(errorResponse(request.childId, ErrorCode.NoClientForRequest, `the client session that was asked ended (${reason})`));
      }
    }
    this.releaseSubscriptions(session);
    session.sink.close(reason);
    this.source.release(session);
    this.log.debug({ session: session.id, reason }, 'session closed');
  }

  /** Isolated mode: a session's own process died; the session ends and its client gets 404 and starts anew. */
  closeSessionsOf(worker: Worker, reason: string): void {
    for (const session of [...this.sessions.values()]) if (session.worker === worker) this.closeSession(session, reason);
  }

  closeAll(reason: string): void {
    this.stopWaiting();
    for (const session of [...this.sessions.values()]) this.closeSession(session, reason);
    clearInterval(this.reaper);
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const session of [...this.sessions.values()]) {
      if (now - session.lastActivity > this.opts.sessionIdleMs && session.inflight.size === 0 && !session.sink.hasOpenStream()) {
        this.log.info({ session: session.id, idleMs: now - session.lastActivity }, 'reaping idle session (no request and no open stream for --session-idle)');
        this.closeSession(session, 'idle timeout');
      }
    }
  }

  // ── client → server ─────────────────────────────────────────────────────────────────────────────────────

  /** A request from the client; its answer arrives later through the session's sink. */
  request(session: Session, request: JsonRpcRequest): void {
    session.lastActivity = Date.now();
    const problem = paramsProblem(request);
    if (problem) return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: ${problem}`));
    switch (request.method) {
      case 'initialize':
        return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidRequest, 'this session is already initialized; send initialize without an Mcp-Session-Id to start a new one'));
      case 'logging/setLevel':
        return this.setLogLevel(session, request);
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.subscription(session, request);
      default:
        return this.forward(session, request);
    }
  }

  notification(session: Session, notification: JsonRpcNotification): void {
    session.lastActivity = Date.now();
    switch (notification.method) {
      case 'notifications/initialized':
        return; // the worker was initialized by the sidecar (shared) or already got the client's own (isolated)
      case 'notifications/cancelled': {
        const requestId = notification.params?.requestId;
        const call = typeof requestId === 'string' || typeof requestId === 'number' ? session.inflight.get(idKey(requestId)) : undefined;
        if (!call) return; // already answered: cancellation races are normal
        call.worker.cancel(call.childId, String(notification.params?.reason ?? 'cancelled by the client'));
        this.finished(call, 'cancelled');
        session.sink.abandon(call.key);
        return;
      }
      default: {
        const worker = this.source.workerFor(session);
        if (worker) worker.send(notification);
      }
    }
  }

  /** The client's answer to a server→client request. */
  response(session: Session, response: JsonRpcResponse): void {
    session.lastActivity = Date.now();
    const pending = typeof response.id === 'number' ? this.serverRequests.get(response.id) : undefined;
    if (!pending || pending.session !== session) {
      this.log.warn({ session: session.id, id: response.id }, 'client answered a server request this session was not asked; dropped');
      return;
    }
    this.serverRequests.delete(response.id as number);
    response.id = pending.childId;
    pending.worker.send(response);
  }

  /** Resolves once a server is ready, or at once when none is coming within --ready-wait (REST checks tools first). */
  async available(): Promise<void> {
    if (!this.source.anyWorker() && this.mayWait()) await this.ready();
  }

  /** A session-less call for the REST facade. */
  async call(method: string, params: Record<string, unknown>): Promise<JsonRpcResponse> {
    await this.available();
    return new Promise((resolve) => {
      const worker = this.source.anyWorker();
      const request: JsonRpcRequest = { jsonrpc: '2.0', id: 0, method, params };
      if (!worker) return resolve(this.unavailableResponse(0));
      if (worker.inflight >= this.opts.maxInflight) return resolve(this.overloaded(0, 'server', `the MCP server process has ${worker.inflight} requests in flight (--max-inflight ${this.opts.maxInflight})`));
      this.restCalls++;
      const owner: CallOwner = {
        respond: (_call, response) => {
          this.restCalls--;
          resolve(response);
        },
        related: () => {},
      };
      this.dispatch(worker, owner, undefined, request);
    });
  }

  private forward(session: Session, request: JsonRpcRequest): void {
    const worker = this.source.workerFor(session);
    if (!worker) {
      // Shared mode: the server is restarting and the session moves to it once READY. (An isolated session whose
      // own process died is over: nothing to wait for.)
      if (this.source.mode === 'shared' && this.mayWait()) {
        return this.whenReady((ok) => {
          if (this.sessions.get(session.id) !== session) return; // closed meanwhile: its exchange was answered
          if (ok) this.forward(session, request);
          else this.answer(session, request, this.unavailableResponse(request.id));
        });
      }
      return this.answer(session, request, this.unavailableResponse(request.id));
    }
    session.worker = worker;
    const key = idKey(request.id);
    if (session.inflight.has(key)) {
      return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidRequest, `request id ${JSON.stringify(request.id)} is already in flight in this session; ids must be unique`));
    }
    // Caps answered at once, never queued: one client's burst must not make everyone else's requests wait.
    if (session.inflight.size >= this.opts.maxSessionInflight) {
      return this.answer(session, request, this.overloaded(request.id, 'session', `this session has ${session.inflight.size} requests in flight (--max-session-inflight ${this.opts.maxSessionInflight}); wait for answers before sending more`));
    }
    if (worker.inflight >= this.opts.maxInflight) {
      return this.answer(session, request, this.overloaded(request.id, 'server', `the MCP server process has ${worker.inflight} requests in flight (--max-inflight ${this.opts.maxInflight}); retry shortly`));
    }
    const call = this.dispatch(worker, session.owner, session, request);
    if (call) session.inflight.set(key, call);
  }

  private dispatch(worker: Worker, owner: CallOwner, session: Session | undefined, request: JsonRpcRequest): RoutedCall | undefined {
    const tool = request.method === 'tools/call' ? this.toolOf(worker, request.params?.name) : undefined;
    // Only known tool names become metric labels: a client must not be able to grow the label set at will.
    const label = tool ? tool.name : request.method === 'tools/call' ? '(unknown)' : '';
    const call = new RoutedCall(this, owner, session, worker, request.id, idKey(request.id), request.method, label, request.params?._meta?.progressToken);
    if (tool && this.opts.retryIdempotent && (tool.annotations?.readOnlyHint || tool.annotations?.idempotentHint)) call.retryRequest = request;
    if (!this.send(worker, call, request)) {
      owner.respond(call, this.unavailableResponse(call.originalId));
      return undefined;
    }
    return call;
  }

  /** Puts a call on a worker: child id, timeout, and the worker's list of callers. */
  private send(worker: Worker, call: RoutedCall, request: JsonRpcRequest): boolean {
    const childId = worker.dispatch(request, call);
    if (childId === undefined) return false;
    call.worker = worker;
    call.childId = childId;
    call.timer = setTimeout(() => this.timedOut(call), this.opts.requestTimeoutMs);
    let calls = this.callsByWorker.get(worker);
    if (!calls) this.callsByWorker.set(worker, (calls = new Set()));
    calls.add(call);
    return true;
  }

  private toolOf(worker: Worker, name: unknown): Tool | undefined {
    return typeof name === 'string' ? worker.profile.tools.find((t) => t.name === name) : undefined;
  }

  /**
   * CallTracker: a call of a readOnly/idempotent tool was in flight when its server died. It is sent once more,
   * as the client sent it, to the next ready server (waiting --ready-wait for the restart); if none comes, the
   * client gets the original error.
   */
  retry(call: RoutedCall, error: JsonRpcErrorObject): void {
    const request = call.retryRequest!;
    call.retryRequest = undefined;
    clearTimeout(call.timer);
    this.callsByWorker.get(call.worker)?.delete(call);
    request.id = call.originalId;
    const meta = request.params?._meta;
    if (meta && call.progressToken !== undefined) meta.progressToken = call.progressToken;
    this.metrics.retries.inc();
    const resend = (ok: boolean): void => {
      if (call.done) return; // cancelled, timed out or its session closed while waiting
      const worker = ok ? (call.session ? this.source.workerFor(call.session) : this.source.anyWorker()) : undefined;
      if (worker && this.send(worker, call, request)) {
        if (call.session) call.session.worker = worker;
        return;
      }
      call.fail(error);
    };
    const worker = call.session ? this.source.workerFor(call.session) : this.source.anyWorker();
    if (worker) resend(true);
    else if (this.mayWait()) this.whenReady(resend);
    else resend(false);
  }

  /** A request the transport could not route (a bug of ours): it stops being in flight; the transport answers. */
  forget(session: Session, id: RequestId, reason: string): void {
    const call = session.inflight.get(idKey(id));
    if (!call) return;
    call.worker.cancel(call.childId, reason);
    this.finished(call, 'error');
  }

  private overloaded(id: RequestId, limit: 'session' | 'server', message: string): JsonRpcResponse {
    this.metrics.overloaded.labels(limit).inc();
    return errorResponse(id, ErrorCode.Overloaded, `mcp-sidecar is overloaded: ${message}`, { retryAfterSeconds: 1 });
  }

  // CallTracker: the single place where a call stops being in flight.
  finished(call: RoutedCall, outcome: 'ok' | 'error' | 'timeout' | 'cancelled' | 'unavailable'): void {
    call.done = true;
    clearTimeout(call.timer);
    this.callsByWorker.get(call.worker)?.delete(call);
    call.session?.inflight.delete(call.key);
    this.metrics.countCall(call.method, outcome);
    if (outcome === 'ok' || outcome === 'error') this.metrics.observeCall(call.method, call.tool, (performance.now() - call.startedAt) / 1000);
  }

  timedOut(call: RoutedCall): void {
    if (call.done) return;
    const seconds = this.opts.requestTimeoutMs / 1000;
    call.worker.cancel(call.childId, `timed out after ${seconds}s in mcp-sidecar`);
    this.finished(call, 'timeout');
    call.owner.respond(call, errorResponse(call.originalId, ErrorCode.RequestTimeout, `the MCP server did not answer ${call.method} within ${seconds}s (--request-timeout); the sidecar cancelled it at the server`));
  }

  private answer(session: Session, request: JsonRpcRequest, response: JsonRpcResponse): void {
    session.sink.deliver(response, idKey(request.id));
  }

  private unavailableResponse(id: JsonRpcRequest['id']): JsonRpcResponse {
    const { reason, retryAfterSeconds } = this.source.unavailable();
    return errorResponse(id, ErrorCode.ServerUnavailable, `the MCP server is not available: ${reason}`, { retryAfterSeconds });
  }

  private setLogLevel(session: Session, request: JsonRpcRequest): void {
    const level = request.params?.level;
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidParams, `invalid log level ${JSON.stringify(level)}; one of ${LOG_LEVELS.join(', ')}`));
    }
    session.logLevel = level as LogLevel;
    // The server gets the most verbose level any session asked for; each session is then filtered to its own.
    let min = LOG_LEVELS.length - 1;
    for (const s of this.sessions.values()) if (s.logLevel && s.worker === session.worker) min = Math.min(min, LOG_LEVELS.indexOf(s.logLevel));
    request.params = { ...request.params, level: LOG_LEVELS[min] };
    this.forward(session, request);
  }

  private subscription(session: Session, request: JsonRpcRequest): void {
    const uri = request.params?.uri;
    if (typeof uri !== 'string') return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidParams, 'params.uri must be a string'));
    const subscribe = request.method === 'resources/subscribe';
    const othersWatching = [...this.sessions.values()].some((s) => s !== session && s.worker === session.worker && s.subscriptions.has(uri));
    if (subscribe) session.subscriptions.add(uri);
    else session.subscriptions.delete(uri);
    // The server holds one subscription per URI for all sessions: only the first subscribe and the last
    // unsubscribe reach it; the rest are the sidecar's own bookkeeping.
    if (othersWatching) return this.answer(session, request, resultResponse(request.id, {}));
    this.forward(session, request);
  }

  private releaseSubscriptions(session: Session): void {
    for (const uri of session.subscriptions) {
      const othersWatching = [...this.sessions.values()].some((s) => s.worker === session.worker && s.subscriptions.has(uri));
      if (!othersWatching && session.worker.state !== 'exited') {
        session.worker.call('resources/unsubscribe', { uri }, this.opts.requestTimeoutMs).catch(() => {});
      }
    }
  }

  // ── server → client ─────────────────────────────────────────────────────────────────────────────────────

  /**
   * For log messages: stdio carries no "related request", so the request most recently sent to this worker by
   * a session stands in for it: exact with one client at a time, a best guess under concurrency (isolated mode
   * is exact always). Server requests are never guessed: see serverRequest.
   */
  /** The callers (sessions; undefined = REST) with requests in flight on a worker, each with one of its calls. */
  private callersOf(worker: Worker): Map<Session | undefined, RoutedCall> {
    const callers = new Map<Session | undefined, RoutedCall>();
    for (const call of this.callsByWorker.get(worker) ?? []) callers.set(call.session, call);
    return callers;
  }

  /**
   * Server→client requests (sampling, elicitation, roots) carry a client's data or ask for its answer, so a wrong
   * guess hands one client's prompt to another. They go to the one caller with requests in flight on this
   * worker; with several (shared mode under concurrency, or a REST call beside a session) stdio cannot say
   * which one asked, and the server gets an error instead of a guess. Isolated mode always has one caller.
   */
  serverRequest(worker: Worker, request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      worker.send(resultResponse(request.id, {}));
      return;
    }
    const callers = this.callersOf(worker);
    const [call] = callers.values();
    const session = call?.session;
    const capability = CAPABILITY_FOR_SERVER_REQUEST[request.method];
    let refusal: string | undefined;
    if (callers.size > 1) {
      refusal = `${callers.size} clients have requests in flight on this shared server process and stdio does not say which of them ${request.method} is for; refused rather than risk sending it to the wrong client (--session-mode isolated routes it exactly)`;
      this.log.warn({ method: request.method, callers: callers.size }, 'server request refused: more than one client could have caused it');
    } else if (!session) refusal = `no client request is in flight to relay ${request.method} to`;
    else if (capability && !session.clientCapabilities[capability]) refusal = `the client whose request is in flight did not declare the "${capability}" capability`;
    if (refusal || !session || !call) {
      worker.send(errorResponse(request.id, ErrorCode.NoClientForRequest, `mcp-sidecar: ${refusal}`));
      return;
    }
    const outward = this.nextServerRequestId++;
    this.serverRequests.set(outward, { worker, childId: request.id, session });
    request.id = outward;
    session.sink.deliver(request, call.key);
  }

  notificationFromServer(worker: Worker, notification: JsonRpcNotification): void {
    switch (notification.method) {
      case 'notifications/message': {
        // Like server requests: a log line may carry a caller's data, so it goes to the one caller in flight, to
        // every session that asked for its level when no call is in flight (server-wide news), and, when
        // several callers are in flight and stdio cannot say whose it is, to the sidecar's own log, not a guess.
        const level = notification.params?.level;
        const callers = this.callersOf(worker);
        if (callers.size === 0) return this.broadcast(worker, notification, (s) => s.wantsLog(level));
        const [call] = callers.values();
        if (callers.size === 1) {
          if (call.session?.wantsLog(level)) call.session.sink.deliver(notification, call.key);
          return;
        }
        this.log[PINO_LEVEL[level as LogLevel] ?? 'info']({ serverLog: notification.params, callers: callers.size }, 'a server log line kept here: several clients have calls in flight on this shared process and stdio does not say whose it is (--session-mode isolated delivers it exactly)');
        return;
      }
      case 'notifications/resources/updated': {
        const uri = notification.params?.uri;
        return this.broadcast(worker, notification, (s) => s.subscriptions.has(uri as string));
      }
      case 'notifications/cancelled': {
        // The server gave up on one of its own requests to a client.
        for (const [outward, pending] of this.serverRequests) {
          if (pending.worker === worker && pending.childId === notification.params?.requestId) {
            this.serverRequests.delete(outward);
            pending.session.sink.deliver({ ...notification, params: { ...notification.params, requestId: outward } });
          }
        }
        return;
      }
      default:
        return this.broadcast(worker, notification, () => true);
    }
  }

  private broadcast(worker: Worker, message: JsonRpcMessage, wants: (s: Session) => boolean): void {
    for (const session of this.sessions.values()) if (session.worker === worker && wants(session)) session.sink.deliver(message);
  }

  /** A worker is gone: its server requests can never be answered. (Its calls were failed by the worker.) */
  workerGone(worker: Worker): void {
    this.callsByWorker.delete(worker);
    for (const [outward, pending] of this.serverRequests) if (pending.worker === worker) this.serverRequests.delete(outward);
  }
}

export type { JsonRpcErrorObject };

/** MCP log levels (RFC 5424 names) as the sidecar's own log levels. */
const PINO_LEVEL: Record<LogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  alert: 'error',
  emergency: 'error',
};
