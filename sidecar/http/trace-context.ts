/**
 * W3C trace context: a gateway's tracing (Kong's OpenTelemetry plugin) sets a `traceparent` header; MCP carries
 * trace context in `_meta` (`traceparent`, `tracestate`), which reaches the server untouched. A request whose
 * body has none gets the header's, so the server's spans join the gateway's trace. With tracing on (OTEL_*) it
 * gets the context of the sidecar's own HTTP span instead, a child of the header's.
 */
import type { IncomingMessage } from 'node:http';
import { tracing } from '../tracing/tracing.js';

export function carryTraceContext(req: IncomingMessage, message: unknown): void {
  const traceparent = tracing ? tracing.traceparentOf(req) : req.headers.traceparent;
  if (typeof traceparent !== 'string') return;
  const m = message as { method?: unknown; params?: unknown };
  if (typeof m?.method !== 'string') return;
  if (m.params === undefined) m.params = {};
  if (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params)) return; // refused later as invalid
  const params = m.params as { _meta?: unknown };
  if (params._meta === undefined) params._meta = {};
  if (typeof params._meta !== 'object' || params._meta === null || Array.isArray(params._meta)) return;
  const meta = params._meta as Record<string, unknown>;
  if (meta.traceparent !== undefined) return;
  meta.traceparent = traceparent;
  const tracestate = req.headers.tracestate;
  if (typeof tracestate === 'string' && meta.tracestate === undefined) meta.tracestate = tracestate;
}
