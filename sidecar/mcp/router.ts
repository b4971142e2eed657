/**
 * The router: many client channels over few worker channels. Client messages come in through a session's
 * channel and go to its worker as calls (in-flight.ts rewrites ids, times out, retries); what a server says on
 * its own goes out through server-messages.ts; sessions are opened, adopted and closed in sessions.ts. The
 * router keeps the per-session state a shared server cannot keep apart (log levels, subscriptions) and the
 * limits that keep one client from starving the rest. It knows nothing of HTTP or of registries.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Channel, ClientChannel } from './channel.js';
import { paramsProblem } from './envelope.js';
import { InFlight } from './in-flight.js';
import { ErrorCode, errorResponse, idKey, kindOf, resultResponse, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type RequestId } from './jsonrpc.js';
import type { WorkerSource } from './pool.js';
import { ReadyWait } from './ready-wait.js';
import { ServerMessages } from './server-messages.js';
import { LOG_LEVELS, type LogLevel, type Session } from './session.js';
import { SessionTable } from './sessions.js';
import type { Worker } from './worker.js';

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

export class Router {
  readonly sessions: SessionTable;
  private readonly inFlight: InFlight;
  private readonly serverMessages: ServerMessages;
  private readonly readyWait: ReadyWait;
  private readonly reaper: NodeJS.Timeout;

  constructor(
    private readonly source: WorkerSource,
    private readonly opts: RouterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.readyWait = new ReadyWait(opts.readyWaitMs, () => !source.failed());
    this.inFlight = new InFlight(source, this.readyWait, metrics, opts);
    this.sessions = new SessionTable(source, this.readyWait, opts, log);
    this.serverMessages = new ServerMessages(this.sessions.all, this.inFlight, log);
    const sweep = Math.max(1000, Math.min(30_000, opts.sessionIdleMs / 4));
    this.reaper = setInterval(() => this.reapIdle(), sweep);
    this.reaper.unref();
  }

  /** Calls in flight (sessions and REST). */
  get inflight(): number {
    return this.inFlight.count;
  }

  /** Requests waiting for a server that is starting or restarting. */
  get waiting(): number {
    return this.readyWait.size;
  }

  /** A new server process (any: supervised, spare, a session's own): what it says on its own comes here. */
  attach(worker: Worker): void {
    worker.onmessage = (message) => this.serverMessages.fromServer(worker, message);
    worker.onclose = () => this.workerGone(worker);
  }

  /** A supervised server is READY: requests waiting for it go on. */
  workerUp(): void {
    this.readyWait.up();
  }

  /** Every supervisor gave up: requests waiting for a restart fail now. */
  crashLooped(): void {
    this.readyWait.giveUp();
  }

  /** A worker is gone: its server requests can never be answered (its calls were failed by the worker). */
  private workerGone(worker: Worker): void {
    this.inFlight.workerGone(worker);
    this.serverMessages.workerGone(worker);
  }

  /** Opens a session for `initialize` on `client`; the client's later messages arrive through the channel. */
  async openSession(initialize: JsonRpcRequest, client: ClientChannel): Promise<{ session: Session; response: JsonRpcResponse }> {
    const { session, result } = await this.sessions.open(initialize.params ?? {}, client);
    this.listen(session);
    return { session, response: resultResponse(initialize.id, result) };
  }

  /** Takes over a session another instance opened (see SessionTable.adopt). */
  async adoptSession(id: string, protocolVersion: string, client: ClientChannel): Promise<Session> {
    const session = await this.sessions.adopt(id, protocolVersion, client);
    this.listen(session);
    return session;
  }

  private listen(session: Session): void {
    session.client.onmessage = (message) => this.fromClient(session, message);
  }

  /** Stops taking sessions and waiting for restarts (shutdown). */
  drain(): void {
    this.sessions.draining = true;
    this.readyWait.stop();
  }

  closeSession(session: Session, reason: string): void {
    if (!this.sessions.remove(session)) return;
    for (const call of [...session.inflight.values()]) this.inFlight.cancel(call, `client session ended: ${reason}`);
    this.serverMessages.sessionClosed(session, reason);
    for (const uri of session.subscriptions) {
      if (this.watchers(session.worker, uri).length === 0 && session.worker.state !== 'exited') {
        session.worker.request('resources/unsubscribe', { uri }, this.opts.requestTimeoutMs).catch(() => {});
      }
    }
    session.client.close(reason);
    this.source.release(session);
    this.log.debug({ session: session.id, reason }, 'session closed');
  }

  /** Isolated mode: a session's own process died; the session ends and its client gets 404 and starts anew. */
  closeSessionsOf(worker: Worker, reason: string): void {
    for (const session of [...this.sessions.all.values()]) if (session.worker === worker) this.closeSession(session, reason);
  }

  closeAll(reason: string): void {
    this.readyWait.stop();
    clearInterval(this.reaper);
    for (const session of [...this.sessions.all.values()]) this.closeSession(session, reason);
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const session of [...this.sessions.all.values()]) {
      if (now - session.lastActivity > this.opts.sessionIdleMs && session.inflight.size === 0 && !session.client.hasOpenStream()) {
        this.log.info({ session: session.id, idleMs: now - session.lastActivity }, 'reaping idle session (no request and no open stream for --session-idle)');
        this.closeSession(session, 'idle timeout');
      }
    }
  }

  /** Everything a session's client sends. */
  private fromClient(session: Session, message: JsonRpcMessage): void {
    session.lastActivity = Date.now();
    switch (kindOf(message)) {
      case 'request':
        return this.request(session, message as JsonRpcRequest);
      case 'notification':
        return this.notification(session, message as JsonRpcNotification);
      case 'response':
        return this.serverMessages.fromClient(session, message as JsonRpcResponse);
    }
  }

  private request(session: Session, request: JsonRpcRequest): void {
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

  private notification(session: Session, notification: JsonRpcNotification): void {
    switch (notification.method) {
      case 'notifications/initialized':
        return; // the worker was initialized by the sidecar (shared) or already got the client's own (isolated)
      case 'notifications/cancelled': {
        const requestId = notification.params?.requestId;
        const call = typeof requestId === 'string' || typeof requestId === 'number' ? session.inflight.get(idKey(requestId)) : undefined;
        if (!call) return; // already answered: cancellation races are normal
        this.inFlight.cancel(call, String(notification.params?.reason ?? 'cancelled by the client'));
        session.client.abandon(call.key);
        return;
      }
      default: {
        const worker = this.source.workerFor(session);
        if (worker) worker.send(notification);
      }
    }
  }

  private forward(session: Session, request: JsonRpcRequest): void {
    const worker = this.source.workerFor(session);
    if (!worker) {
      // Shared mode: the server is restarting and the session moves to it once READY. (An isolated session whose
      // own process died is over: nothing to wait for.)
      if (this.source.mode === 'shared' && this.readyWait.possible()) {
        return this.readyWait.whenReady((ok) => {
          if (this.sessions.get(session.id) !== session) return; // closed meanwhile: its exchange was answered
          if (ok) this.forward(session, request);
          else this.answer(session, request, this.inFlight.unavailable(request.id));
        });
      }
      return this.answer(session, request, this.inFlight.unavailable(request.id));
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
    const call = this.inFlight.dispatch(worker, session.client, session, request);
    if (call) session.inflight.set(key, call);
  }

  /** Resolves once a server is ready, or at once when none is coming within --ready-wait (REST checks tools first). */
  async available(): Promise<void> {
    if (!this.source.anyWorker() && this.readyWait.possible()) await this.readyWait.ready();
  }

  /** A session-less call for the REST facade: its client is a one-shot channel that takes the response. */
  async call(method: string, params: Record<string, unknown>): Promise<JsonRpcResponse> {
    await this.available();
    return new Promise((resolve) => {
      const worker = this.source.anyWorker();
      if (!worker) return resolve(this.inFlight.unavailable(0));
      if (worker.inflight >= this.opts.maxInflight) {
        return resolve(this.overloaded(0, 'server', `the MCP server process has ${worker.inflight} requests in flight (--max-inflight ${this.opts.maxInflight})`));
      }
      const client: Channel = {
        send: (message) => {
          if (kindOf(message) === 'response') resolve(message as JsonRpcResponse);
        },
        close: () => {},
      };
      this.inFlight.dispatch(worker, client, undefined, { jsonrpc: '2.0', id: 0, method, params });
    });
  }

  /** A request the transport could not route (a bug of ours): it stops being in flight; the transport answers. */
  forget(session: Session, id: RequestId, reason: string): void {
    const call = session.inflight.get(idKey(id));
    if (call) this.inFlight.cancel(call, reason, 'error');
  }

  /** A changed tool list reached the registries: shared sessions hear of it (isolated ones keep their processes). */
  toolsChanged(): void {
    if (this.source.mode !== 'shared') return;
    for (const session of this.sessions.all.values()) session.client.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  }

  private answer(session: Session, request: JsonRpcRequest, response: JsonRpcResponse): void {
    session.client.send(response, idKey(request.id));
  }

  private overloaded(id: RequestId, limit: 'session' | 'server', message: string): JsonRpcResponse {
    this.metrics.overloaded.labels(limit).inc();
    return errorResponse(id, ErrorCode.Overloaded, `mcp-sidecar is overloaded: ${message}`, { retryAfterSeconds: 1 });
  }

  private setLogLevel(session: Session, request: JsonRpcRequest): void {
    const level = request.params?.level;
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      return this.answer(session, request, errorResponse(request.id, ErrorCode.InvalidParams, `invalid log level ${JSON.stringify(level)}; one of ${LOG_LEVELS.join(', ')}`));
    }
    session.logLevel = level as LogLevel;
    // The server gets the most verbose level any session asked for; each session is then filtered to its own.
    let min = LOG_LEVELS.length - 1;
    for (const s of this.sessions.all.values()) if (s.logLevel && s.worker === session.worker) min = Math.min(min, LOG_LEVELS.indexOf(s.logLevel));
    request.params = { ...request.params, level: LOG_LEVELS[min] };
    this.forward(session, request);
  }

  private subscription(session: Session, request: JsonRpcRequest): void {
    const uri = request.params!.uri as string;
    const subscribe = request.method === 'resources/subscribe';
    const othersWatching = this.watchers(session.worker, uri).some((s) => s !== session);
    if (subscribe) session.subscriptions.add(uri);
    else session.subscriptions.delete(uri);
    // The server holds one subscription per URI for all sessions: only the first subscribe and the last
    // unsubscribe reach it; the rest are the sidecar's own bookkeeping.
    if (othersWatching) return this.answer(session, request, resultResponse(request.id, {}));
    this.forward(session, request);
  }

  private watchers(worker: Worker, uri: string): Session[] {
    return [...this.sessions.all.values()].filter((s) => s.worker === worker && s.subscriptions.has(uri));
  }

}
