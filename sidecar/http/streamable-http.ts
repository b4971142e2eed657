/**
 * MCP Streamable HTTP (spec 2025-11-25; 2025-06-18 and 2025-03-26 clients work too) on POST/GET/DELETE /mcp.
 *
 * A lean path of our own rather than the SDK's server transport: the benchmark showed the SDK transport alone
 * spending several times our whole per-call budget. The trick that keeps it cheap: a POST is answered with
 * plain JSON unless something related to its request (progress, a log line, a sampling request) shows up
 * before the response — only then does the exchange switch to an SSE stream. The conformance suite keeps this
 * path honest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../mcp/protocol-versions.js';
import type { Logger } from '../log.js';
import { ErrorCode, errorResponse, idKey, kindOf, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type RequestId } from '../mcp/jsonrpc.js';
import { NotReadyError, type Router } from '../mcp/router.js';
import type { Session, SessionSink } from '../mcp/session.js';
import { BodyError, isJsonContentType, type BodyReader } from './body.js';
import { EventStore, type EventStoreLimits } from './event-store.js';

export interface StreamableHttpOptions {
  /** Shared with the REST facade: one reading budget for every body. */
  body: BodyReader;
  keepAliveMs: number;
  eventStore: EventStoreLimits;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // nginx and friends buffer responses unless told not to; an SSE stream must flow.
  'x-accel-buffering': 'no',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: '2.0', id: null, error: { code, message } }, headers);
}

function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept;
  return accept !== undefined && (accept.includes(type) || accept.includes('*/*'));
}

/** One SSE-capable stream of a session: a POST exchange or the GET stream. */
class Stream {
  sse = false;
  open = true;

  constructor(
    readonly id: number,
    public res: ServerResponse | undefined,
    protected readonly http: HttpSession,
  ) {}

  startSse(): void {
    if (!this.res || this.sse) return;
    this.sse = true;
    this.res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.http.sessionId });
    this.http.transport.sseStreams.add(this.res);
  }

  /**
   * Follows the connection carrying this stream: when it drops, later events are only stored (for a GET with
   * Last-Event-ID). Only the connection currently carrying the stream counts: one that a resuming GET replaced
   * may report its close late, and must not close the stream the new connection now carries.
   */
  watch(res: ServerResponse): void {
    res.on('close', () => {
      this.http.transport.sseStreams.delete(res);
      if (this.res === res && !res.writableFinished) this.open = false;
    });
  }

  /** Writes one SSE event (and stores it for resumption). */
  event(message: JsonRpcMessage): void {
    const data = JSON.stringify(message);
    const eventId = this.http.events.append(this.id, data);
    if (this.res && this.open) this.res.write(`id: ${eventId}\nevent: message\ndata: ${data}\n\n`);
  }

  end(): void {
    if (!this.open) return;
    this.open = false;
    if (this.res) {
      this.http.transport.sseStreams.delete(this.res);
      this.res.end();
    }
  }
}

/** A POST carrying requests: waits for their responses; JSON if nothing else arrives first, SSE otherwise. */
class PostExchange extends Stream {
  private readonly ids = new Map<string | number, RequestId>();
  private readonly buffered: JsonRpcMessage[] = [];

  constructor(
    id: number,
    res: ServerResponse,
    http: HttpSession,
    requests: JsonRpcRequest[],
    private readonly batch: boolean,
  ) {
    super(id, res, http);
    for (const r of requests) this.ids.set(idKey(r.id), r.id);
    // If the client goes away, its requests keep running (disconnect is not cancellation, per spec).
    this.watch(res);
  }

  keys(): IterableIterator<string | number> {
    return this.ids.keys();
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
      this.startSse();
      for (const m of this.buffered.splice(0)) this.event(m);
    }
    this.event(message);
    if (this.ids.size === 0) this.end();
  }

  /**
   * Answers requests that are not routed (their id is already in flight in this session): they go out with
   * this exchange's other answers and are never registered, so they cannot take over the first request's stream.
   */
  answerNow(responses: JsonRpcResponse[]): void {
    if (responses.length === 0) return;
    this.buffered.push(...responses);
    if (this.ids.size === 0) this.finishJson();
  }

  /** The session's key → exchange entry, removed only while it is still ours. */
  private forget(key: string | number): void {
    if (this.http.exchanges.get(key) === this) this.http.exchanges.delete(key);
  }

  abandon(key: string | number): void {
    this.ids.delete(key);
    this.forget(key);
    if (this.ids.size > 0) return;
    if (!this.sse && this.open && this.buffered.length > 0) return this.finishJson();
    this.startSse(); // nothing to answer: an empty stream that ends tells the client we are done
    this.end();
  }

  /** Fails what is still open (session closed under it). */
  failRemaining(message: string): void {
    for (const [key, id] of [...this.ids]) this.deliver({ jsonrpc: '2.0', id, error: { code: ErrorCode.ServerUnavailable, message } }, key);
  }

  private finishJson(): void {
    this.open = false;
    if (!this.res) return;
    const body = this.batch ? this.buffered : this.buffered[0];
    const text = JSON.stringify(body);
    this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'mcp-session-id': this.http.sessionId });
    this.res.end(text);
  }
}

/** The HTTP side of one session: the SessionSink the router talks to. */
class HttpSession implements SessionSink {
  session!: Session;
  readonly exchanges = new Map<string | number, PostExchange>();
  readonly streams = new Map<number, Stream>();
  standalone: Stream | undefined;
  readonly events: EventStore;
  dropped = 0;

  constructor(
    readonly transport: StreamableHttp,
    limits: EventStoreLimits,
  ) {
    this.events = new EventStore(limits);
  }

  get sessionId(): string {
    return this.session.id;
  }

  deliver(message: JsonRpcMessage, related?: string | number): void {
    if (related !== undefined) {
      const exchange = this.exchanges.get(related);
      if (exchange) return exchange.deliver(message, related);
    }
    if (this.standalone?.open) return this.standalone.event(message);
    // No stream to put it on: keep it for a resuming GET, and count it.
    this.events.append(0, JSON.stringify(message));
    this.dropped++;
  }

  abandon(related: string | number): void {
    this.exchanges.get(related)?.abandon(related);
  }

  close(reason: string): void {
    this.transport.sessions.delete(this.session.id);
    for (const exchange of new Set(this.exchanges.values())) exchange.failRemaining(`the session ended: ${reason}`);
    this.standalone?.end();
  }

  hasOpenStream(): boolean {
    return (this.standalone?.open ?? false) || this.exchanges.size > 0;
  }

  nextStreamId(): number {
    return this.transport.nextStreamId++;
  }
}

export class StreamableHttp {
  readonly sessions = new Map<string, HttpSession>();
  readonly sseStreams = new Set<ServerResponse>();
  nextStreamId = 1;
  private readonly adopting = new Map<string, Promise<HttpSession>>();
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly router: Router,
    private readonly opts: StreamableHttpOptions,
    private readonly log: Logger,
  ) {
    // One timer for every open stream: comments keep proxies (Kong, nginx) from timing idle streams out.
    this.keepAlive = setInterval(() => {
      for (const res of this.sseStreams) res.write(': keep-alive\n\n');
    }, opts.keepAliveMs);
    this.keepAlive.unref();
  }

  close(): void {
    clearInterval(this.keepAlive);
    for (const res of this.sseStreams) res.end();
    this.sseStreams.clear();
  }

  post = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream')) {
      return sendRpcError(res, 406, -32000, 'Not Acceptable: the client must accept both application/json and text/event-stream');
    }
    if (!isJsonContentType(req)) return sendRpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    let body: unknown;
    try {
      body = await this.opts.body.readJson(req);
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      return sendRpcError(res, err.status, err.rpcCode, err.message, err.headers);
    }
    const messages = Array.isArray(body) ? body : [body];
    if (messages.length === 0 || body === undefined) return sendRpcError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: empty body; send a JSON-RPC 2.0 message');
    const requests: JsonRpcRequest[] = [];
    let initialize: JsonRpcRequest | undefined;
    for (let i = 0; i < messages.length; i++) {
      const kind = kindOf(messages[i]);
      if (kind === 'invalid') {
        const where = Array.isArray(body) ? ` (batch item ${i})` : '';
        return sendRpcError(res, 400, ErrorCode.InvalidRequest, `Invalid Request${where}: not a JSON-RPC 2.0 request, notification or response (needs "jsonrpc": "2.0" and a "method" or a "result"/"error" with an "id")`);
      }
      if (kind === 'request') {
        requests.push(messages[i]);
        if (messages[i].method === 'initialize') initialize = messages[i];
      }
    }
    if (initialize) {
      if (messages.length > 1) return sendRpcError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: initialize must be sent alone, not in a batch');
      return this.initialize(initialize, res);
    }
    const http = await this.sessionFor(req, res);
    if (!http) return;
    const session = http.session;
    for (const message of messages) {
      const kind = kindOf(message);
      if (kind === 'notification') this.router.notification(session, message as JsonRpcNotification);
      else if (kind === 'response') this.router.response(session, message as JsonRpcResponse);
    }
    if (requests.length === 0) {
      res.writeHead(202);
      res.end();
      return;
    }
    // A request whose id is already in flight in this session (on another POST or earlier in this batch) is
    // refused here: registering it would hand the first request's answer to this exchange, and the first
    // POST would never be answered.
    const routed: JsonRpcRequest[] = [];
    const refused: JsonRpcResponse[] = [];
    const keys = new Set<string | number>();
    for (const request of requests) {
      const key = idKey(request.id);
      if (http.exchanges.has(key) || keys.has(key)) {
        refused.push(errorResponse(request.id, ErrorCode.InvalidRequest, `request id ${JSON.stringify(request.id)} is already in flight in this session; ids must be unique`));
      } else {
        keys.add(key);
        routed.push(request);
      }
    }
    const exchange = new PostExchange(http.nextStreamId(), res, http, routed, Array.isArray(body));
    for (const key of exchange.keys()) http.exchanges.set(key, exchange);
    exchange.answerNow(refused);
    for (const request of routed) this.router.request(session, request);
  };

  get = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!accepts(req, 'text/event-stream')) return sendRpcError(res, 406, -32000, 'Not Acceptable: GET /mcp opens an SSE stream; send Accept: text/event-stream');
    const http = await this.sessionFor(req, res);
    if (!http) return;
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId !== '') return this.resume(http, lastEventId, res);
    if (http.standalone?.open) {
      return sendRpcError(res, 409, -32000, 'Conflict: this session already has an open GET stream; only one is allowed');
    }
    const stream = new Stream(0, res, http);
    http.standalone = stream;
    stream.startSse();
    res.flushHeaders();
    stream.watch(res);
  };

  delete = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const http = await this.sessionFor(req, res);
    if (!http) return;
    this.router.closeSession(http.session, 'closed by the client (DELETE)');
    sendJson(res, 200, { closed: true });
  };

  private async initialize(request: JsonRpcRequest, res: ServerResponse): Promise<void> {
    const http = new HttpSession(this, this.opts.eventStore);
    try {
      const { session, response } = await this.router.openSession(request, http);
      http.session = session;
      this.sessions.set(session.id, http);
      sendJson(res, 200, response, { 'mcp-session-id': session.id });
    } catch (err) {
      if (!(err instanceof NotReadyError)) throw err;
      sendJson(res, 503, { jsonrpc: '2.0', id: request.id, error: { code: ErrorCode.ServerUnavailable, message: err.message } }, { 'retry-after': String(err.retryAfterSeconds) });
    }
  }

  /** Replays what a client missed on one stream, then keeps the stream going on this connection. */
  private resume(http: HttpSession, lastEventId: string, res: ServerResponse): void {
    const found = http.events.after(lastEventId);
    if (!found) return sendRpcError(res, 400, -32000, `Bad Request: Last-Event-ID "${lastEventId}" is not an event of this session`);
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': http.sessionId });
    this.sseStreams.add(res);
    for (const e of found.events) res.write(`id: ${e.stream}_${e.seq}\nevent: message\ndata: ${e.data}\n\n`);
    if (found.gap) this.log.warn({ session: http.sessionId, lastEventId }, 'resumption gap: events older than the store bounds were dropped');
    // If that POST stream still has requests in flight, the rest of it flows here.
    const exchange = [...new Set(http.exchanges.values())].find((x) => x.id === found.stream);
    if (exchange) {
      exchange.res = res;
      exchange.sse = true;
      exchange.open = true;
      exchange.watch(res);
    } else if (found.stream === 0 || !http.standalone?.open) {
      const stream = new Stream(0, res, http);
      stream.sse = true;
      http.standalone = stream;
      stream.watch(res);
    } else {
      this.sseStreams.delete(res);
      res.end();
    }
  }

  private async sessionFor(req: IncomingMessage, res: ServerResponse): Promise<HttpSession | undefined> {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || id === '') {
      sendRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required (send initialize first to get one)');
      return undefined;
    }
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
      sendRpcError(res, 400, -32000, `Bad Request: unsupported MCP-Protocol-Version "${version}" (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
      return undefined;
    }
    const http = this.sessions.get(id) ?? (this.router.canAdopt(id) ? await this.adopt(id, version ?? '2025-03-26', res) : undefined);
    if (!http) {
      if (!res.headersSent) sendRpcError(res, 404, -32001, 'Session not found: it expired or was closed; initialize a new session');
      return undefined;
    }
    http.session.lastActivity = Date.now();
    return http;
  }

  /** A session another instance opened (see Router.adoptSession); concurrent first requests share one adoption. */
  private adopt(id: string, protocolVersion: string, res: ServerResponse): Promise<HttpSession | undefined> {
    let pending = this.adopting.get(id);
    if (!pending) {
      const http = new HttpSession(this, this.opts.eventStore);
      pending = this.router.adoptSession(id, protocolVersion, http).then((session) => {
        http.session = session;
        this.sessions.set(id, http);
        return http;
      });
      pending.finally(() => this.adopting.delete(id)).catch(() => {});
      this.adopting.set(id, pending);
    }
    return pending.catch((err: Error) => {
      if (!(err instanceof NotReadyError)) throw err;
      sendRpcError(res, 503, ErrorCode.ServerUnavailable, err.message, { 'retry-after': String(err.retryAfterSeconds) });
      return undefined;
    });
  }
}
