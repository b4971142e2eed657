/**
 * A `subscriptions/listen` stream (revision 2026-07-28): acknowledged first with what was granted, then the
 * opted-in change notifications, each tagged with the subscription id; keep-alive comments between them. It ends
 * when the client goes, or with a final result when the sidecar shuts down.
 */
import type { ServerResponse } from 'node:http';
import { toJson } from '../mcp/big-integers.js';
import type { JsonRpcMessage, RequestId } from '../mcp/jsonrpc.js';
import { META } from '../mcp/modern.js';
import type { ListenChannel, SubscriptionFilter } from '../mcp/subscriptions.js';
import { SSE_HEADERS } from './reply.js';
import type { StreamableHttp } from './streamable-http.js';

export class ListenStream implements ListenChannel {
  constructor(
    private readonly res: ServerResponse,
    private readonly transport: StreamableHttp,
    private readonly id: RequestId,
  ) {}

  /** Opens the stream with the acknowledgement of what this subscription delivers. */
  open(granted: SubscriptionFilter, onclose: () => void): void {
    this.res.writeHead(200, SSE_HEADERS);
    this.transport.streams.add(this.res);
    this.transport.listeners.add(this);
    this.res.on('close', () => {
      this.transport.streams.delete(this.res);
      this.transport.listeners.delete(this);
      onclose();
    });
    this.send({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: granted, _meta: { [META.subscriptionId]: this.id } },
    });
    // A listen that waited for the server's answers while the sidecar began shutting down missed the final
    // results the others got (StreamableHttp.close): it gets its own, rather than a connection cut later.
    if (this.transport.closed) this.close();
  }

  send(message: JsonRpcMessage): void {
    if (!this.res.writableEnded)
      this.transport.write(this, this.res, `event: message\ndata: ${toJson(message, this.id)}\n\n`);
  }

  /** The sidecar ends the subscription gracefully: the listen request's result, then the end of the stream. */
  close(): void {
    if (this.res.writableEnded) return;
    this.send({ jsonrpc: '2.0', id: this.id, result: { _meta: { [META.subscriptionId]: this.id } } });
    this.res.end();
  }

  /** Cut, not closed: no result, so that the client knows it lost what it was granted (the router logs why). */
  drop(): void {
    this.res.destroy();
  }

  closeSlow(): void {
    this.res.destroy();
  }
}
