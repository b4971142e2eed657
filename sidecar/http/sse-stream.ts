/**
 * One SSE-capable stream of a session: the standalone GET stream, or (as the base of PostExchange) the answer to
 * a POST. Events are stored for Last-Event-ID resumption before they are written, so a stream whose connection
 * dropped, or which was closed for not reading, loses nothing the store still holds.
 */
import type { ServerResponse } from 'node:http';
import { toJson } from '../mcp/big-integers.js';
import type { JsonRpcMessage } from '../mcp/jsonrpc.js';
import type { HttpSession } from './http-session.js';
import { SSE_HEADERS } from './reply.js';

const STREAM = Symbol('sse stream');
type Watched = ServerResponse & { [STREAM]?: SseStream };

/** One listener for every watched response (a closure per POST was garbage on the hot path). */
function onClose(this: Watched): void {
  this[STREAM]?.closed(this);
}

export class SseStream {
  sse = false;
  open = true;

  constructor(
    readonly id: number,
    public res: ServerResponse | undefined,
    protected readonly http: HttpSession,
  ) {}

  /** Switches the response to SSE (once); false when it cannot (already answered, or no connection). */
  startSse(): boolean {
    if (this.sse) return true;
    if (!this.res || this.res.headersSent) return false;
    this.sse = true;
    this.res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.http.sessionId });
    this.http.transport.streams.add(this.res);
    return true;
  }

  /**
   * Follows the connection carrying this stream: when it drops, later events are only stored (for a GET with
   * Last-Event-ID). Only the connection currently carrying the stream counts: one that a resuming GET replaced
   * may report its close late, and must not close the stream the new connection now carries.
   */
  watch(res: ServerResponse): void {
    (res as Watched)[STREAM] = this;
    res.on('close', onClose);
  }

  /** The connection `res` closed. */
  closed(res: ServerResponse): void {
    this.http.transport.streams.delete(res);
    if (this.res === res && !res.writableFinished) this.open = false;
  }

  /** Writes one SSE event (and stores it for resumption). */
  event(message: JsonRpcMessage): void {
    const data = toJson(message);
    const eventId = this.http.events.append(this.id, data);
    if (this.res && this.open && this.sse)
      this.http.transport.write(this, this.res, `id: ${eventId}\nevent: message\ndata: ${data}\n\n`);
  }

  /** The client stopped reading and the unsent bytes passed --stream-buffer: drop the connection, keep the events. */
  closeSlow(): void {
    this.open = false;
    this.res?.destroy();
  }

  end(): void {
    if (!this.open) return;
    this.open = false;
    if (this.res) {
      this.http.transport.streams.delete(this.res);
      if (!this.res.writableEnded) this.res.end();
    }
  }
}
