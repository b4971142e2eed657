/**
 * Prometheus metrics. Counts that the hot path would otherwise have to maintain (in-flight calls, sessions,
 * ready workers) are read at scrape time through `collect`; what a call and an HTTP request count is kept as plain
 * numbers (hot-metrics.ts) and handed to prom-client at scrape time too.
 */
import { createRequire } from 'node:module';
import client from 'prom-client';
import { TallyCounter, TallyHistogram } from './hot-metrics.js';
import { FORWARDED_METHODS } from './mcp/modern.js';

const require = createRequire(import.meta.url);
type DefaultMetric = (
  registry: client.Registry,
  config: { prefix: string; eventLoopMonitoringPrecision: number },
) => void;

/**
 * prom-client's default metrics (process CPU, memory, heap spaces, event loop lag, handles, …) but its GC duration
 * histogram. That one is a PerformanceObserver of every garbage collection: under load (~140 young-generation GCs a
 * second with 1 MB semi-spaces) Node 20 and 24 build an entry per GC whose legacy fields get deprecate() wrappers,
 * and their setPrototypeOf allocates in old space: it cost 8–10% of the sidecar's CPU per call at C = 32 (bench A/B
 * in one run) and most of the old-space growth that leads to mark-compacts. Heap sizes per space stay exported.
 */
function collectDefaultMetricsButGc(registry: client.Registry, prefix: string): void {
  for (const name of client.collectDefaultMetrics.metricsList) {
    if (name === 'gc') continue;
    const metric = require(`prom-client/lib/metrics/${name}`) as DefaultMetric;
    metric(registry, { prefix, eventLoopMonitoringPrecision: 10 });
  }
}

export interface MetricsSources {
  inflight(): number;
  sessions(): number;
  readyWorkers(): number;
  /** Requests at the server processes plus requests waiting for a server to become ready. */
  queueDepth(): number;
  /** Requests waiting (--ready-wait) for a server that is starting or restarting. */
  waitingForReady(): number;
  publisherStates(): { publisher: string; state: string }[];
  /** 2026-07-28 calls waiting for their client's retry with inputResponses (MRTR). */
  inputPending(): number;
}

/**
 * The methods calls are labelled with: MCP's requests of a client, in both eras. Anything else (a server's own
 * extension, or a client's invention) is counted as "(other)": a client must not be able to grow the label set,
 * and with it /metrics and the sidecar's memory, at will. (Tools are labelled only when the server lists them.)
 */
const METHOD_LABELS: ReadonlySet<string> = new Set([
  ...FORWARDED_METHODS,
  'initialize',
  'ping',
  'resources/subscribe',
  'resources/unsubscribe',
  'logging/setLevel',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'server/discover',
  'subscriptions/listen',
]);

const methodLabel = (method: string): string => (METHOD_LABELS.has(method) ? method : '(other)');

export class Metrics {
  readonly registry = new client.Registry();
  private readonly httpTally = new TallyCounter(['route', 'status']);
  private readonly callTally = new TallyCounter(['method', 'outcome']);
  readonly httpRequests: client.Counter<'route' | 'status'> = new client.Counter({
    name: 'mcp_sidecar_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
    collect: (): void => this.httpTally.flush(this.httpRequests),
  });
  readonly rpcCalls: client.Counter<'method' | 'outcome'> = new client.Counter({
    name: 'mcp_sidecar_rpc_calls_total',
    help: 'JSON-RPC requests relayed to the MCP server, by method and outcome (ok, error, timeout, cancelled, unavailable)',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
    collect: (): void => this.callTally.flush(this.rpcCalls),
  });
  readonly rpcDuration = new TallyHistogram(
    'mcp_sidecar_rpc_duration_seconds',
    'Time from relaying a request to the MCP server until its response, by method and tool',
    ['method', 'tool'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    this.registry,
  );
  readonly childRestarts = new client.Counter({
    name: 'mcp_sidecar_child_restarts_total',
    help: 'Times the MCP server process was started again after it exited or hung',
    registers: [this.registry],
  });
  readonly childExits = new client.Counter({
    name: 'mcp_sidecar_child_exits_total',
    help: 'Times an MCP server process ended or failed to start, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly garbageLines = new client.Counter({
    name: 'mcp_sidecar_child_stdout_garbage_lines_total',
    help: 'Lines on the MCP server stdout that were not JSON-RPC messages, or messages MCP does not allow (logged and dropped)',
    registers: [this.registry],
  });
  readonly pingLatency = new client.Histogram({
    name: 'mcp_sidecar_ping_latency_seconds',
    help: 'Latency of the liveness MCP ping to the server',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly overloaded = new client.Counter({
    name: 'mcp_sidecar_overload_refusals_total',
    help: 'Requests refused at once because too many were in flight, by limit (session: --max-session-inflight, server: --max-inflight, input: --max-pending-input)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly retries = new client.Counter({
    name: 'mcp_sidecar_idempotent_retries_total',
    help: 'Calls of readOnly/idempotent tools in flight when the server died, sent again to the restarted server (--retry-idempotent)',
    registers: [this.registry],
  });
  readonly slowStreamsClosed = new client.Counter({
    name: 'mcp_sidecar_sse_slow_streams_closed_total',
    help: 'SSE connections closed because the client stopped reading and --stream-buffer filled up',
    registers: [this.registry],
  });
  readonly mrtrForwards = new client.Counter({
    name: 'mcp_sidecar_mrtr_forwards_total',
    help: 'MCP 2026-07-28 retries (requestState) whose call waits at another replica, by outcome (forwarded: the owner answered; not_again: a forwarded request was not forwarded again; no_consul, consul_unreachable, owner_gone, owner_unreachable: refused with the reason)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetricsButGc(this.registry, 'mcp_sidecar_');
    new client.Gauge({
      name: 'mcp_sidecar_rpc_inflight',
      help: 'Requests waiting for the MCP server',
      registers: [this.registry],
      collect() {
        this.set(sources.inflight());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_sessions',
      help: 'Open MCP sessions',
      registers: [this.registry],
      collect() {
        this.set(sources.sessions());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_workers_ready',
      help: 'MCP server processes that are handshaken and answered their last ping',
      registers: [this.registry],
      collect() {
        this.set(sources.readyWorkers());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_queue_depth',
      help: 'Requests queued at the MCP server processes or waiting for one to become ready',
      registers: [this.registry],
      collect() {
        this.set(sources.queueDepth());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_waiting_for_ready',
      help: 'Requests waiting (--ready-wait) for an MCP server that is starting or restarting',
      registers: [this.registry],
      collect() {
        this.set(sources.waitingForReady());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_input_pending',
      help: 'MCP 2026-07-28 calls waiting for their client to retry with inputResponses (at most --max-pending-input)',
      registers: [this.registry],
      collect() {
        this.set(sources.inputPending());
      },
    });
    new client.Gauge({
      name: 'mcp_sidecar_registration_state',
      help: 'Registration state per publisher (1 for the current state)',
      labelNames: ['publisher', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { publisher, state } of sources.publisherStates()) this.set({ publisher, state }, 1);
      },
    });
  }

  /** One call's time at the server, by method and tool (plain numbers; see hot-metrics.ts). */
  observeCall(method: string, tool: string, seconds: number): void {
    this.rpcDuration.observe(methodLabel(method), tool, seconds);
  }

  /** One HTTP request answered, by route and status. */
  countHttp(route: string, status: number): void {
    this.httpTally.inc(route, status);
  }

  countCall(method: string, outcome: 'ok' | 'error' | 'timeout' | 'cancelled' | 'unavailable'): void {
    this.callTally.inc(methodLabel(method), outcome);
  }
}
