/**
 * MCP Streamable HTTP (spec 2025-11-25; 2025-06-18 and 2025-03-26 clients work too) on POST/GET/DELETE /mcp.
 *
 * A lean path of our own rather than the SDK's server transport: the benchmark showed the SDK transport alone
 * spending several times our whole per-call budget. The trick that keeps it cheap: a POST is answered with
 * plain JSON unless something related to its request (progress, a log line, a sampling request) shows up
 * before the response — only then does the exchange switch to an SSE stream. The conformance suite keeps this
 * path honest. The pieces: HttpSession (one per MCP session), PostExchange (one per POST), SseStream (GET).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { keepBigIntegers } from '../mcp/big-integers.js';
import { callerOf, tagCaller } from '../mcp/caller.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  kindOf,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../mcp/jsonrpc.js';
import { declaredVersion, isModernVersion } from '../mcp/modern.js';
import type { Router } from '../mcp/router.js';
import { BodyError, jsonBodyProblem, type BodyDone, type BodyReader } from './body.js';
import type { EventStoreLimits } from './event-store.js';
import type { HttpSession } from './http-session.js';
import { HttpSessions } from './http-sessions.js';
import type { ListenStream } from './listen-stream.js';
import { ModernRequests } from './modern-requests.js';
import type { OwnerForward } from './owner-forward.js';
import { carryTraceContext } from './trace-context.js';
import { freeIds, PostExchange } from './post-exchange.js';
import { GET_ACCEPT, POST_ACCEPT } from './accept.js';
import { modernHasNoSessions } from './modern-methods.js';
import { sendInternalError, sendJson, sendRpcError, sendTransportError } from './reply.js';

export interface StreamableHttpOptions {
  /** Shared with the REST facade: one reading budget for every body; it also refuses bodies past --max-depth. */
  body: BodyReader;
  maxBatch: number;
  keepAliveMs: number;
  /** Unsent bytes an SSE connection may hold before it is closed as a reader that does not read. */
  streamBufferBytes: number;
  eventStore: EventStoreLimits;
  /** ttlMs of modern list results. */
  listTtlMs: number;
  /** Counts a stream closed for not reading (metrics). */
  onSlowStreamClosed(): void;
  /** Passes MRTR retries on to the replica that holds their call. */
  ownerForward?: OwnerForward;
}

export class StreamableHttp {
  /** The legacy era's sessions (the modern era has none). */
  readonly sessions: HttpSessions;
  /** Connections carrying an SSE stream: they get keep-alive comments. */
  readonly streams = new Set<ServerResponse>();
  /** Open subscriptions/listen streams: ended with a final result at shutdown. */
  readonly listeners = new Set<ListenStream>();
  /** The sidecar is shutting down: a listen acknowledged from now on ends at once (see ListenStream.open). */
  closed = false;
  nextStreamId = 1;
  private readonly modern: ModernRequests;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly router: Router,
    private readonly opts: StreamableHttpOptions,
    readonly log: Logger,
  ) {
    this.modern = new ModernRequests(router, this, opts);
    this.sessions = new HttpSessions(router, this, opts.eventStore);
    // One timer for every open stream: comments keep proxies (Kong, nginx) from timing idle streams out. A
    // connection with bytes still unsent is not idle, and must not be given more to hold.
    this.keepAlive = setInterval(() => {
      for (const res of this.streams) if (res.writableLength === 0) res.write(': keep-alive\n\n');
    }, opts.keepAliveMs);
    this.keepAlive.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.keepAlive);
    for (const listener of [...this.listeners]) listener.close();
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  /**
   * Writes to an SSE connection, honouring backpressure: a client that stops reading may hold --stream-buffer
   * bytes, then its connection is dropped (the events stay in the session's store for Last-Event-ID).
   */
  write(stream: { closeSlow(): void }, res: ServerResponse, chunk: string): void {
    res.write(chunk);
    if (res.writableLength > this.opts.streamBufferBytes) {
      this.log.warn(
        { unsentBytes: res.writableLength, limit: this.opts.streamBufferBytes },
        'closed an SSE stream whose client stopped reading (--stream-buffer); it can resume with Last-Event-ID',
      );
      this.streams.delete(res);
      stream.closeSlow();
      this.opts.onSlowStreamClosed();
    }
  }

  /**
   * POST /mcp. Synchronous from the request to the router for a session's call: the body arrives through a callback
   * and the session is found at once, so a call costs no promise (a session being adopted, and initialize, wait).
   */
  post = (req: IncomingMessage, res: ServerResponse): void => {
    if (POST_ACCEPT.refused(req, res)) return;
    const unreadable = jsonBodyProblem(req);
    if (unreadable) {
      sendTransportError(res, 415, `Unsupported Media Type: ${unreadable}`);
      return;
    }
    this.opts.body.read(req, res, this.received);
  };

  /** The body of a POST, read (one function for every request: see BodyReader.read). */
  private readonly received: BodyDone = (req, res, err, body, text) => {
    try {
      if (err) {
        if (!(err instanceof BodyError)) throw err;
        sendRpcError(res!, err.status, err.rpcCode, err.message, err.headers);
        return;
      }
      const pending = this.serve(req, res!, body, text!);
      if (pending) pending.catch((e: Error) => this.failed(res!, e));
    } catch (e) {
      this.failed(res!, e as Error);
    }
  };

  /** A bug of ours: logged, and the client gets a 500 (what app.ts does for the other routes). */
  private failed(res: ServerResponse, err: Error): void {
    sendInternalError(this.log, err, '/mcp', res);
  }

  private serve(req: IncomingMessage, res: ServerResponse, body: unknown, text: string): void | Promise<void> {
    const messages = Array.isArray(body) ? body : [body];
    if (messages.length === 0 || body === undefined) {
      sendRpcError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: empty body; send a JSON-RPC 2.0 message');
      return;
    }
    if (messages.length > this.opts.maxBatch) {
      sendRpcError(
        res,
        400,
        ErrorCode.InvalidRequest,
        `Invalid Request: a batch of ${messages.length} messages is over the limit of ${this.opts.maxBatch} (--max-batch); send fewer at a time`,
      );
      return;
    }
    keepBigIntegers(messages, text);
    const caller = callerOf(req);
    for (const message of messages) {
      carryTraceContext(req, message);
      tagCaller(message, caller);
    }
    // Revision 2026-07-28 (modern): a request declaring its version in _meta, or sent with a modern
    // MCP-Protocol-Version, is served statelessly whatever session header it carries (and `initialize` is then an
    // unknown method). A legacy `initialize` selects the legacy era, as a dual-era server does.
    if (isModernVersion(req.headers['mcp-protocol-version']) || anyDeclaresVersion(messages)) {
      const [first] = messages;
      if (Array.isArray(body)) {
        sendRpcError(
          res,
          400,
          ErrorCode.InvalidRequest,
          'Invalid Request: MCP 2026-07-28 has no batches; send each request in its own POST',
        );
        return;
      }
      return this.modern.handle(req, res, first as JsonRpcRequest, text);
    }
    let requests: JsonRpcRequest[] | undefined;
    /** Notifications and answers to server requests: each message's kind is found once, here. */
    let others: JsonRpcMessage[] | undefined;
    let initialize: JsonRpcRequest | undefined;
    for (let i = 0; i < messages.length; i++) {
      const kind = kindOf(messages[i]);
      if (kind === 'invalid') {
        const where = Array.isArray(body) ? ` (batch item ${i})` : '';
        sendRpcError(
          res,
          400,
          ErrorCode.InvalidRequest,
          `Invalid Request${where}: not a JSON-RPC 2.0 request, notification or response (needs "jsonrpc": "2.0" and a "method" or a "result"/"error" with an "id")`,
        );
        return;
      }
      if (kind === 'request') {
        requests = add(requests, messages[i]);
        if (messages[i].method === 'initialize') initialize = messages[i];
      } else others = add(others, messages[i]);
    }
    if (initialize) {
      if (messages.length > 1) {
        sendRpcError(
          res,
          400,
          ErrorCode.InvalidRequest,
          'Invalid Request: initialize must be sent alone, not in a batch',
        );
        return;
      }
      return this.sessions.open(initialize, req, res);
    }
    const found = this.sessions.find(req, res);
    const toRoute = requests ?? NONE;
    const said = others ?? NONE;
    const batch = Array.isArray(body);
    if (found instanceof Promise) return found.then((http) => http && this.route(http, res, toRoute, said, batch));
    if (found) this.route(found, res, toRoute, said, batch);
  }

  /** A session's requests (each to the router, answered on one PostExchange) and its other messages. */
  private route(
    http: HttpSession,
    res: ServerResponse,
    requests: JsonRpcRequest[],
    others: JsonRpcMessage[],
    batch: boolean,
  ): void {
    const session = http.session;
    for (const message of others) http.receive(message);
    if (requests.length === 0) {
      res.writeHead(202);
      res.end();
      return;
    }
    const refused: JsonRpcResponse[] = [];
    // (A lone request whose id is free, the common case, needs no set of this batch's keys and no copy of the list.)
    const routed =
      requests.length === 1 && !http.exchanges.has(idKey(requests[0].id)) ? requests : freeIds(http, requests, refused);
    const exchange = new PostExchange(http.nextStreamId(), res, http, routed, batch);
    exchange.register();
    exchange.answerNow(refused);
    for (const request of routed) {
      try {
        http.receive(request);
      } catch (err) {
        // A bug of ours must cost this one request, answered, never the exchange or the process.
        const reason = `mcp-sidecar failed to route ${request.method}: ${(err as Error).message}`;
        this.log.error({ err, method: request.method }, 'routing a request failed inside the sidecar');
        this.router.forget(session, request.id, reason);
        const key = idKey(request.id);
        if (http.exchanges.get(key) === exchange)
          exchange.deliver(errorResponse(request.id, ErrorCode.InternalError, reason), key);
      }
    }
  }

  get = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (modernHasNoSessions(req, res) || GET_ACCEPT.refused(req, res)) return;
    const http = await this.sessions.find(req, res);
    if (!http) return;
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId !== '') return http.resume(lastEventId, res);
    http.openStandalone(res);
  };

  delete = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (modernHasNoSessions(req, res)) return;
    const http = await this.sessions.find(req, res);
    if (!http) return;
    this.router.closeSession(http.session, 'closed by the client (DELETE)');
    sendJson(res, 200, { closed: true });
  };
}

const NONE: never[] = [];

/** `list` with `item` added; a list is made only for a first item, and exactly as long (no spare room). */
function add<T>(list: T[] | undefined, item: T): T[] {
  if (!list) return [item];
  list.push(item);
  return list;
}

/** Whether a message declares a protocol version in its _meta (a loop: no closure per request). */
function anyDeclaresVersion(messages: unknown[]): boolean {
  for (let i = 0; i < messages.length; i++) if (declaredVersion(messages[i]) !== undefined) return true;
  return false;
}
