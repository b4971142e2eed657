/**
 * The HTTP side of one MCP session: the client channel the router talks to. It knows which POST exchange each
 * request in flight belongs to, holds the standalone GET stream, and stores events for resumption.
 */
import type { ServerResponse } from 'node:http';
import type { ClientChannel } from '../mcp/channel.js';
import { toJson } from '../mcp/big-integers.js';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { Session } from '../mcp/session.js';
import { EventStore, type EventStoreLimits } from './event-store.js';
import type { PostExchange } from './post-exchange.js';
import { SSE_HEADERS, sendTransportError } from './reply.js';
import { SseStream } from './sse-stream.js';
import type { StreamableHttp } from './streamable-http.js';

export class HttpSession implements ClientChannel {
  session!: Session;
  /**
   * Who opened the session (callerIdentity; undefined when requests say nothing of their caller): only that
   * caller may use it, since the id alone must not be enough to take a session over.
   */
  owner: string | undefined;
  onmessage?: (message: JsonRpcMessage) => void;
  readonly exchanges = new Map<string | number, PostExchange>();
  standalone: SseStream | undefined;
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

  private idHeaderList: readonly string[] | undefined;

  /** The Mcp-Session-Id header of every answer, made once per session (a plain JSON answer takes it as it is). */
  get idHeader(): readonly string[] {
    return (this.idHeaderList ??= ['mcp-session-id', this.session.id]);
  }

  /** A message from the client: to the router. */
  receive(message: JsonRpcMessage): void {
    this.onmessage?.(message);
  }

  /** A message to the client: on the stream of the request it belongs to, else the GET stream, else stored. */
  send(message: JsonRpcMessage, related?: string | number): void {
    if (related !== undefined) {
      const exchange = this.exchanges.get(related);
      if (exchange) return exchange.deliver(message, related);
    }
    if (this.standalone?.open) return this.standalone.event(message);
    // No stream to put it on: keep it for a resuming GET, and count it.
    this.events.append(0, toJson(message));
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

  /** Opens the standalone GET stream; 409 while one is open (the spec allows one). */
  openStandalone(res: ServerResponse): void {
    if (this.standalone?.open) {
      sendTransportError(res, 409, 'Conflict: this session already has an open GET stream; only one is allowed');
      return;
    }
    const stream = new SseStream(0, res, this);
    this.standalone = stream;
    stream.startSse();
    res.flushHeaders();
    stream.watch(res);
  }

  /**
   * Replays what a client missed on one stream, then keeps that stream going on this connection. A POST answer
   * still to be sent as plain JSON, and an open GET stream, belong to the connection that has them: a guessed
   * event id must not divert them.
   */
  resume(lastEventId: string, res: ServerResponse): void {
    const found = this.events.after(lastEventId);
    if (!found) {
      sendTransportError(res, 400, `Bad Request: Last-Event-ID "${lastEventId}" is not an event of this session`);
      return;
    }
    let exchange: PostExchange | undefined;
    for (const x of this.exchanges.values()) if (x.id === found.stream) exchange = x;
    const standaloneBusy = found.stream === 0 && this.standalone?.open;
    if ((exchange && !exchange.resumable()) || standaloneBusy) {
      sendTransportError(
        res,
        409,
        `Conflict: the stream of event "${lastEventId}" is not one that can be resumed (a plain JSON answer, or a GET stream still open)`,
      );
      return;
    }
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    // Sent now: with nothing to replay, the client would otherwise wait for the first event or keep-alive.
    res.flushHeaders();
    this.transport.streams.add(res);
    for (const e of found.events) res.write(`id: ${e.stream}_${e.seq}\nevent: message\ndata: ${e.data}\n\n`);
    if (found.gap)
      this.transport.log.warn(
        { session: this.sessionId, lastEventId },
        'resumption gap: events older than the store bounds were dropped',
      );
    if (exchange) {
      // The rest of that POST's answer flows here.
      exchange.res = res;
      exchange.open = true;
      exchange.watch(res);
    } else if (!this.standalone?.open) {
      // Stream 0, or a finished POST stream with no GET stream open: this connection becomes the GET stream.
      const stream = new SseStream(0, res, this);
      stream.sse = true;
      this.standalone = stream;
      stream.watch(res);
    } else {
      // A finished POST stream, and the GET stream is open elsewhere: the replay was all there was.
      this.transport.streams.delete(res);
      res.end();
    }
  }
}
