/**
 * Prometheus metrics. Counts that the hot path would otherwise have to maintain (in-flight calls, sessions,
 * ready workers) are read at scrape time through `collect`, so a call costs one counter and one histogram.
 */
import client from 'prom-client';

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

export class Metrics {
  readonly registry = new client.Registry();
  readonly httpRequests = new client.Counter({
    name: 'mcp_sidecar_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly rpcCalls = new client.Counter({
    name: 'mcp_sidecar_rpc_calls_total',
    help: 'JSON-RPC requests relayed to the MCP server, by method and outcome (ok, error, timeout, cancelled, unavailable)',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly rpcDuration = new client.Histogram({
    name: 'mcp_sidecar_rpc_duration_seconds',
    help: 'Time from relaying a request to the MCP server until its response, by method and tool',
    labelNames: ['method', 'tool'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
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
    help: 'Lines on the MCP server stdout that were not JSON-RPC messages (logged and dropped)',
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
  private readonly durationChildren = new Map<string, client.Histogram.Internal<'method' | 'tool'>>();
  private readonly callChildren = new Map<string, client.Counter.Internal>();
  private readonly httpChildren = new Map<string, client.Counter.Internal>();

  constructor(sources: MetricsSources) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'mcp_sidecar_' });
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

  /** Histogram child per method/tool, cached: label hashing on every call is measurable on the hot path. */
  observeCall(method: string, tool: string, seconds: number): void {
    const key = tool ? `${method}\u0000${tool}` : method;
    let child = this.durationChildren.get(key);
    if (!child) {
      child = this.rpcDuration.labels(method, tool);
      this.durationChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** One HTTP request answered, by route and status (children cached: label hashing per request is measurable). */
  countHttp(route: string, status: number): void {
    const key = `${route} ${status}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpRequests.labels(route, String(status));
      this.httpChildren.set(key, child);
    }
    child.inc();
  }

  countCall(method: string, outcome: 'ok' | 'error' | 'timeout' | 'cancelled' | 'unavailable'): void {
    const key = `${method}\u0000${outcome}`;
    let child = this.callChildren.get(key);
    if (!child) {
      child = this.rpcCalls.labels(method, outcome);
      this.callChildren.set(key, child);
    }
    child.inc();
  }
}
