/**
 * OpenTelemetry traces, off unless the standard OTEL_* environment asks for them. This module imports no
 * OpenTelemetry code: the SDK (otel.ts) is loaded only when tracing is on, and the hot path pays one test of
 * `tracing` for being off. The parts call the hooks: app.ts (a span per HTTP request), trace-context.ts (the
 * HTTP span as the MCP request's parent in `_meta`), in-flight.ts and call.ts (a span per MCP request and one for
 * its round trip to the server process, whose context goes to the server in `_meta.traceparent`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Call, Outcome } from '../mcp/call.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../mcp/jsonrpc.js';

/** The spans of one MCP request: what the server answered, then how the call ended. */
export interface CallTrace {
  answered(response: JsonRpcResponse): void;
  end(outcome: Outcome): void;
}

export interface Tracing {
  /** Starts the span of an HTTP request (parent: its `traceparent` header); it ends when the response closes. */
  http(req: IncomingMessage, res: ServerResponse, route: string): void;
  /** The `traceparent` of the request's HTTP span (the header's when the request has none). */
  traceparentOf(req: IncomingMessage): string | undefined;
  /** Starts the spans of a call (parent: its `_meta.traceparent`) and puts the round trip's context there. */
  call(call: Call, request: JsonRpcRequest, sessionMode: string): CallTrace;
  /** Exports what is still buffered and stops. */
  shutdown(): Promise<void>;
}

/** The tracer, when tracing is on (a live binding: the parts read it on each request). */
export let tracing: Tracing | undefined;

/**
 * On when an OTLP endpoint is set or OTEL_TRACES_EXPORTER names otlp; off when OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none (the SDK's own meaning of these variables).
 */
export function wantsTracing(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim());
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || !!env.OTEL_EXPORTER_OTLP_ENDPOINT || !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
}

/** Loads the SDK and turns tracing on; the service name defaults to --name (OTEL_SERVICE_NAME wins). */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  service: { name: string; version: string; instanceId?: string },
  log: Logger,
): Promise<void> {
  const { otelTracing } = await import('./otel.js');
  tracing = otelTracing(env, service, log);
}

/** Flushes the spans still buffered, waiting at most `waitMs` for the receiver. */
export async function stopTracing(waitMs = 3000): Promise<void> {
  const current = tracing;
  if (!current) return;
  tracing = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    current.shutdown().catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
  ]);
  clearTimeout(timer);
}
