/**
 * What a session's client sends: requests become calls on its worker (within the per-session and per-process
 * limits, which are answered at once, never queued: one client's burst must not make everyone else wait),
 * notifications are handled or passed on, and answers to server requests go back to the process that asked.
 */
import { idJson } from './big-integers.js';
import type { Channel } from './channel.js';
import type { InFlight } from './in-flight.js';
import { paramsProblem } from './envelope.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  kindOf,
  resultResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import type { WorkerSource } from './pool.js';
import type { ReadyWait } from './ready-wait.js';
import type { ServerMessages } from './server-messages.js';
import type { Session } from './session.js';
import { applyLogLevel, bookSubscription, sessionSubscribeProblem } from './session-state.js';
import type { SessionTable } from './sessions.js';
import type { Subscriptions } from './subscriptions.js';

export class ClientMessages {
  /** Numbers each subscribe sent to a server, so that only the latest one of a URI is recorded. */
  private subscribeTurns = 0;

  constructor(
    private readonly source: WorkerSource,
    private readonly sessions: SessionTable,
    private readonly inFlight: InFlight,
    private readonly serverMessages: ServerMessages,
    private readonly readyWait: ReadyWait,
    private readonly subscriptions: Subscriptions,
    private readonly opts: { maxSessionInflight: number },
  ) {}

  /** Everything a session's client sends. */
  fromClient(session: Session, message: JsonRpcMessage): void {
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
    if (problem) return this.refuse(session, request, ErrorCode.InvalidParams, `Invalid params: ${problem}`);
    switch (request.method) {
      case 'initialize':
        return this.refuse(
          session,
          request,
          ErrorCode.InvalidRequest,
          'this session is already initialized; send initialize without an Mcp-Session-Id to start a new one',
        );
      case 'logging/setLevel': {
        const refusal = applyLogLevel(session, request, this.sessions.all);
        return refusal ? this.answer(session, request, refusal) : this.forward(session, request);
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = request.params!.uri as string;
        const limit = request.method === 'resources/subscribe' ? sessionSubscribeProblem(session, uri) : undefined;
        if (limit) return this.refuse(session, request, ErrorCode.InvalidParams, `Invalid params: ${limit}`);
        // The server holds one subscription per URI for everyone: only the first subscribe and the last
        // unsubscribe reach it; the rest are the sidecar's own bookkeeping.
        if (!bookSubscription(session, request, this.sessions.all, this.subscriptions))
          return this.answer(session, request, resultResponse(request.id, {}));
        return request.method === 'resources/subscribe'
          ? this.forward(session, request, this.recordOnSuccess(session, uri))
          : this.forward(session, request);
      }
      default:
        return this.forward(session, request);
    }
  }

  notification(session: Session, notification: JsonRpcNotification): void {
    switch (notification.method) {
      case 'notifications/initialized':
        return; // the worker was initialized by the sidecar (shared) or already got the client's own (isolated)
      case 'notifications/cancelled': {
        const requestId = notification.params?.requestId;
        const call =
          typeof requestId === 'string' || typeof requestId === 'number'
            ? session.inflight.get(idKey(requestId))
            : undefined;
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

  /**
   * The session's client for a subscribe to `uri` on its way to the server: the subscription is in flight until
   * the answer, and recorded if the server accepted it, unless the session unsubscribed (or subscribed again)
   * meanwhile, or closed (which released it at the server: Router.closeSession).
   */
  private recordOnSuccess(session: Session, uri: string): Channel {
    const turn = ++this.subscribeTurns;
    session.subscribing.set(uri, turn);
    return {
      send: (message, related) => {
        if (kindOf(message) === 'response' && session.subscribing.get(uri) === turn) {
          session.subscribing.delete(uri);
          if (!('error' in message) && this.sessions.get(session.id) === session) session.subscriptions.add(uri);
        }
        session.client.send(message, related);
      },
      close: (reason) => session.client.close(reason),
    };
  }

  /** A request to the session's worker as a call; its answer goes to `client` (a translator may stand between). */
  forward(session: Session, request: JsonRpcRequest, client: Channel = session.client): void {
    const worker = this.source.workerFor(session);
    if (!worker) {
      // Shared mode: the server is restarting and the session moves to it once READY. (An isolated session whose
      // own process died is over: nothing to wait for.)
      if (this.source.mode === 'shared' && this.readyWait.possible()) {
        return this.readyWait.whenReady((ok) => {
          if (this.sessions.get(session.id) !== session) return; // closed meanwhile: its exchange was answered
          if (ok) this.forward(session, request, client);
          else this.answer(session, request, this.inFlight.unavailable(request.id));
        });
      }
      return this.answer(session, request, this.inFlight.unavailable(request.id));
    }
    this.sessions.move(session, worker);
    const key = idKey(request.id);
    if (session.inflight.has(key)) {
      return this.refuse(
        session,
        request,
        ErrorCode.InvalidRequest,
        `request id ${idJson(request.id)} is already in flight in this session; ids must be unique`,
      );
    }
    // Caps answered at once, never queued: one client's burst must not make everyone else's requests wait (the
    // per-process cap is InFlight.dispatch's, for every caller).
    if (session.inflight.size >= this.opts.maxSessionInflight) {
      return this.answer(
        session,
        request,
        this.inFlight.overloaded(
          request.id,
          'session',
          `this session has ${session.inflight.size} requests in flight (--max-session-inflight ${this.opts.maxSessionInflight}); wait for answers before sending more`,
        ),
      );
    }
    const call = this.inFlight.dispatch(worker, client, session, request);
    if (call) session.inflight.set(key, call);
  }

  refuse(session: Session, request: JsonRpcRequest, code: number, message: string): void {
    this.answer(session, request, errorResponse(request.id, code, message));
  }

  answer(session: Session, request: JsonRpcRequest, response: JsonRpcResponse): void {
    session.client.send(response, idKey(request.id));
  }
}
