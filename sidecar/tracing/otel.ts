/**
 * The tracer behind the hooks of tracing.ts, built from the OpenTelemetry SDK and configured by its standard
 * environment: OTLP/HTTP export (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _HEADERS,
 * _TIMEOUT), the sampler (OTEL_TRACES_SAMPLER, _ARG), the batch processor (OTEL_BSP_*) and the resource
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). Loaded only when tracing is on.
 *
 * Names follow the OpenTelemetry semantic conventions for MCP (gen-ai/mcp.md) and HTTP: the MCP spans are named
 * `{mcp.method.name} {target}`, the server side (SERVER) as the sidecar receives the request and the round trip
 * to the server process (CLIENT, network.transport "pipe") as its child; the context goes into `params._meta`.
 */
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Call, Outcome } from '../mcp/call.js';
import type { JsonRpcResponse } from '../mcp/jsonrpc.js';
import { declaredVersion } from '../mcp/modern.js';
import type { CallTrace, Tracing } from './tracing.js';

const propagator = new W3CTraceContextPropagator();

export function otelTracing(
  env: NodeJS.ProcessEnv,
  service: { name: string; version: string; instanceId?: string },
  log: Logger,
): Tracing {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol && protocol !== 'http/json' && protocol !== 'http/protobuf')
    log.warn({ protocol }, 'OTEL_EXPORTER_OTLP_PROTOCOL: mcp-sidecar exports OTLP/HTTP with JSON bodies only');
  const resource = resourceFromAttributes({
    'service.name': service.name,
    'service.version': service.version,
    ...(service.instanceId !== undefined && { 'service.instance.id': service.instanceId }),
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer('mcp-sidecar', service.version);
  const httpSpans = new WeakMap<IncomingMessage, Span>();
  log.info({ service: service.name }, 'tracing on: exporting spans over OTLP/HTTP (OTEL_* environment)');

  return {
    http(req, res, route) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const method = req.method ?? 'GET';
      const span = tracer.startSpan(
        `${method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': method, 'url.path': (req.url ?? '/').replace(/\?.*$/, '') },
        },
        parent,
      );
      httpSpans.set(req, span);
      res.once('close', () => endHttp(span, req, res, route));
    },

    traceparentOf(req) {
      const span = httpSpans.get(req);
      if (!span) return typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
      return carrier.traceparent;
    },

    call(call, request, sessionMode) {
      const params = (request.params ??= {});
      const meta = (params._meta ??= {}) as Record<string, unknown>;
      const parent = propagator.extract(ROOT_CONTEXT, meta, defaultTextMapGetter);
      const known = call.tool !== '' && call.tool !== '(unknown)' ? call.tool : undefined;
      const name = known ? `${call.method} ${known}` : call.method;
      const attributes: Attributes = {
        'mcp.method.name': call.method,
        'jsonrpc.request.id': String(request.id),
        'mcp_sidecar.session_mode': sessionMode,
      };
      if (typeof params.name === 'string' && call.method === 'tools/call') {
        attributes['gen_ai.tool.name'] = params.name;
        attributes['gen_ai.operation.name'] = 'execute_tool';
      }
      if (call.session) attributes['mcp.session.id'] = call.session.id;
      const version = call.session?.protocolVersion ?? declaredVersion(request);
      if (typeof version === 'string') attributes['mcp.protocol.version'] = version;
      const server = tracer.startSpan(
        name,
        { kind: SpanKind.SERVER, attributes: { ...attributes, 'network.transport': 'tcp' } },
        parent,
      );
      const within = trace.setSpan(parent, server);
      const child = tracer.startSpan(
        name,
        { kind: SpanKind.CLIENT, attributes: { ...attributes, 'network.transport': 'pipe' } },
        within,
      );
      // The server's own spans join the round trip: the context it gets is this span's (the tracestate stays).
      delete meta.traceparent;
      propagator.inject(trace.setSpan(within, child), meta, defaultTextMapSetter);
      return callTrace(call, server, child);
    },

    shutdown: () => provider.shutdown(),
  };
}

function endHttp(span: Span, req: IncomingMessage, res: ServerResponse, route: string): void {
  // Express knows the matched route only once it has run: the span's name and http.route use it then.
  const matched = (req as { route?: { path?: unknown } }).route?.path;
  const finalRoute = typeof matched === 'string' ? matched : route;
  if (finalRoute !== route) span.updateName(`${req.method} ${finalRoute}`);
  span.setAttribute('http.route', finalRoute);
  span.setAttribute('http.response.status_code', res.statusCode);
  if (!res.writableFinished) span.setAttribute('error.type', 'connection_closed');
  if (res.statusCode >= 500) {
    span.setAttribute('error.type', String(res.statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function callTrace(call: Call, server: Span, child: Span): CallTrace {
  let errorType: string | undefined;
  let message: string | undefined;
  return {
    answered(response: JsonRpcResponse) {
      if (response.error) {
        errorType = String(response.error.code);
        message = response.error.message;
        child.setAttribute('rpc.response.status_code', errorType);
        server.setAttribute('rpc.response.status_code', errorType);
      } else if ((response.result as { isError?: unknown } | undefined)?.isError === true) {
        errorType = 'tool_error';
      }
    },
    end(outcome: Outcome) {
      if (outcome !== 'ok' && outcome !== 'error') errorType = outcome;
      const era = call.modern ? 'modern' : call.session ? 'legacy' : 'rest';
      for (const span of [child, server]) {
        span.setAttribute('mcp_sidecar.era', era);
        span.setAttribute('mcp_sidecar.outcome', outcome);
        if (errorType !== undefined) {
          span.setAttribute('error.type', errorType);
          span.setStatus({ code: SpanStatusCode.ERROR, message });
        }
        span.end();
      }
    },
  };
}
