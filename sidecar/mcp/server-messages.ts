/**
 * What a server process says on its own: requests to a client (sampling, elicitation, roots, ping) and
 * notifications (logs, list changes, resource updates, its own cancellations). Stdio carries no "related
 * request", so a message that may carry one client's data goes only where it is known to belong: to the one
 * caller with requests in flight on that process, never to a guess.
 */
import type { Logger } from '../log.js';
import type { InFlight } from './in-flight.js';
import type { InputRequired } from './input-required.js';
import {
  ErrorCode,
  errorResponse,
  kindOf,
  own,
  resultResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import { META } from './modern.js';
import type { LogLevel, Session } from './session.js';
import type { Subscriptions } from './subscriptions.js';
import type { Worker } from './worker.js';

const CAPABILITY_FOR_SERVER_REQUEST: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

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

/**
 * A server→client request relayed to a session, by the id the client sees: the answer goes back to the worker
 * that asked under its own id, or (the sidecar's own asks, resolving a modern server's InputRequiredResult for a
 * legacy client) to `resolve`.
 */
interface Relayed {
  worker?: Worker;
  childId: string | number;
  session: Session;
  resolve?: (response: JsonRpcResponse) => void;
}

export class ServerMessages {
  private readonly relayed = new Map<number, Relayed>();
  private nextId = 1;

  constructor(
    private readonly sessions: ReadonlyMap<string, Session>,
    /** Modern clients' subscriptions/listen streams. */
    private readonly subscriptions: Subscriptions,
    private readonly inFlight: InFlight,
    /** Modern callers: the server's requests become InputRequiredResults (MRTR). */
    private readonly input: InputRequired,
    private readonly log: Logger,
  ) {}

  /** Everything a worker hands on (its `onmessage`). */
  fromServer(worker: Worker, message: JsonRpcMessage): void {
    if (kindOf(message) === 'request') this.request(worker, message as JsonRpcRequest);
    else this.notification(worker, message as JsonRpcNotification);
  }

  /**
   * Server→client requests carry a client's data or ask for its answer, so a wrong guess hands one client's
   * prompt to another. They go to the one caller with requests in flight on this worker; with several (shared
   * mode under concurrency, or a REST call beside a session) stdio cannot say which one asked, and the server
   * gets an error instead of a guess. Isolated mode always has one caller.
   */
  private request(worker: Worker, request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      worker.send(resultResponse(request.id, {}));
      return;
    }
    const callers = this.inFlight.callersOf(worker);
    const [call] = callers.values();
    const session = call?.session;
    const capability = own(CAPABILITY_FOR_SERVER_REQUEST, request.method);
    let refusal: string | undefined;
    if (callers.size > 1) {
      refusal = `${callers.size} clients have requests in flight on this shared server process and stdio does not say which of them ${request.method} is for; refused rather than risk sending it to the wrong client (--session-mode isolated routes it exactly)`;
      this.log.warn(
        { method: request.method, callers: callers.size },
        'server request refused: more than one client could have caused it',
      );
    } else if (call?.modern && capability && !call.modern.capabilities[capability]) {
      // The revision's rule: a request that needs a capability the client did not declare fails with
      // MissingRequiredClientCapability; the server's own request gets an error too, and the call is stopped there.
      refusal = `the client did not declare the "${capability}" capability`;
      this.input.undeclared(call, request.method, capability);
    } else if (call?.modern) {
      if (capability && this.input.ask(worker, call, request)) return;
      refusal = `the client whose request is in flight speaks MCP 2026-07-28, where only tools/call, prompts/get and resources/read may ask for input (elicitation, sampling, roots), and its request is ${call.method}; ${request.method} cannot reach it`;
    } else if (!session) refusal = `no client request is in flight to relay ${request.method} to`;
    else if (capability && !session.clientCapabilities[capability])
      refusal = `the client whose request is in flight did not declare the "${capability}" capability`;
    if (refusal || !session || !call) {
      worker.send(errorResponse(request.id, ErrorCode.NoClientForRequest, `mcp-sidecar: ${refusal}`));
      return;
    }
    const outward = this.nextId++;
    this.relayed.set(outward, { worker, childId: request.id, session });
    request.id = outward;
    session.client.send(request, call.key);
  }

  private notification(worker: Worker, notification: JsonRpcNotification): void {
    // A modern server tags what its listen stream carries with the sidecar's subscription id: not the clients'.
    const meta = notification.params?._meta as Record<string, unknown> | undefined;
    if (meta && META.subscriptionId in meta) {
      delete meta[META.subscriptionId];
      if (Object.keys(meta).length === 0) delete notification.params!._meta;
    }
    switch (notification.method) {
      case 'notifications/message': {
        // Like server requests: a log line may carry a caller's data, so it goes to the one caller in flight, to
        // every session that asked for its level when no call is in flight (server-wide news), and, when
        // several callers are in flight and stdio cannot say whose it is, to the sidecar's own log, not a guess.
        // A call parked for its client's input (MRTR) is no caller (nobody waits on it), but the line may be its:
        // with no other caller in flight it stays here too, not broadcast to every session.
        const level = notification.params?.level;
        const callers = this.inFlight.callersOf(worker);
        const parked = callers.size === 0 && this.inFlight.hasParked(worker);
        if (callers.size === 0 && !parked) return this.broadcast(worker, notification, (s) => s.wantsLog(level));
        const [call] = callers.values();
        if (callers.size === 1) {
          if (call.wantsLog(level)) call.client.send(notification, call.key);
          return;
        }
        this.log[own(PINO_LEVEL, String(level)) ?? 'info'](
          { serverLog: notification.params, callers: callers.size },
          parked
            ? "a server log line kept here: the only calls on this shared process wait for their clients' input (MRTR), the line may be one of theirs, and nobody waits on them now"
            : 'a server log line kept here: several clients have calls in flight on this shared process and stdio does not say whose it is (--session-mode isolated delivers it exactly)',
        );
        return;
      }
      case 'notifications/resources/updated': {
        const uri = notification.params?.uri;
        this.subscriptions.deliver(notification, worker);
        return this.broadcast(worker, notification, (s) => s.subscriptions.has(uri as string));
      }
      case 'notifications/subscriptions/acknowledged':
        return; // a modern server acknowledged the sidecar's own subscriptions/listen (server-listen.ts)
      case 'notifications/cancelled': {
        // The server gave up on one of its own requests to a client.
        this.input.serverCancelled(worker, notification.params?.requestId);
        for (const [outward, pending] of this.relayed) {
          if (pending.worker === worker && pending.childId === notification.params?.requestId) {
            this.relayed.delete(outward);
            pending.session.client.send({ ...notification, params: { ...notification.params, requestId: outward } });
          }
        }
        return;
      }
      default:
        this.subscriptions.deliver(notification, worker);
        return this.broadcast(worker, notification, () => true);
    }
  }

  private broadcast(worker: Worker, message: JsonRpcMessage, wants: (s: Session) => boolean): void {
    for (const session of this.sessions.values())
      if (session.worker === worker && wants(session)) session.client.send(message);
  }

  /** A client's answer to a server→client request goes back to the process that asked, under its own id. */
  fromClient(session: Session, response: JsonRpcResponse): void {
    const pending = typeof response.id === 'number' ? this.relayed.get(response.id) : undefined;
    if (!pending || pending.session !== session) {
      this.log.warn(
        { session: session.id, id: response.id },
        'client answered a server request this session was not asked; dropped',
      );
      return;
    }
    this.relayed.delete(response.id as number);
    response.id = pending.childId;
    if (pending.resolve) pending.resolve(response);
    else pending.worker!.send(response);
  }

  /**
   * The sidecar's own request to a session's client (on the stream of its request `related`), through the same
   * path as a server's: its id, and the answer (or an error when the session ends first, or `withdraw`).
   */
  ask(
    session: Session,
    related: string | number,
    method: string,
    params: unknown,
  ): { id: number; answer: Promise<JsonRpcResponse> } {
    const outward = this.nextId++;
    const answer = new Promise<JsonRpcResponse>((resolve) => {
      this.relayed.set(outward, { childId: outward, session, resolve });
      const request = { jsonrpc: '2.0' as const, id: outward, method } as JsonRpcRequest;
      if (params !== undefined) request.params = params as JsonRpcRequest['params'];
      session.client.send(request, related);
    });
    return { id: outward, answer };
  }

  /** An ask nobody waits for any more: the client is told (on the stream of `related`) and its answer dropped. */
  withdraw(id: number, related: string | number, reason: string): void {
    const pending = this.relayed.get(id);
    if (!pending?.resolve) return;
    this.relayed.delete(id);
    const note = { jsonrpc: '2.0' as const, method: 'notifications/cancelled', params: { requestId: id, reason } };
    pending.session.client.send(note, related);
    pending.resolve(errorResponse(id, ErrorCode.NoClientForRequest, reason));
  }

  /** A session ended: the server's requests to it get an error, so the server does not wait forever. */
  sessionClosed(session: Session, reason: string): void {
    for (const [id, pending] of this.relayed) {
      if (pending.session === session) {
        this.relayed.delete(id);
        const error = errorResponse(
          pending.childId,
          ErrorCode.NoClientForRequest,
          `the client session that was asked ended (${reason})`,
        );
        if (pending.resolve) pending.resolve(error);
        else pending.worker!.send(error);
      }
    }
  }

  /** A worker is gone: its requests can never be answered. */
  workerGone(worker: Worker): void {
    for (const [id, pending] of this.relayed) if (pending.worker === worker) this.relayed.delete(id);
  }
}
