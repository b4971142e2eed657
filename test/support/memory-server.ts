/**
 * The core without processes: an MCP server that lives in memory behind the worker's ServerProcess interface,
 * client channels that record what they are sent, and a router over a real pool of such servers. Unit tests of
 * the router, the sessions and the pools run through the same Channel interface the sidecar uses.
 */
import type { ChildEvents, ExitInfo, ServerProcess, StopTimings } from '../../sidecar/child/stdio-child.js';
import { createLogger } from '../../sidecar/log.js';
import type { ClientChannel } from '../../sidecar/mcp/channel.js';
import type { JsonRpcMessage } from '../../sidecar/mcp/jsonrpc.js';
import type { WorkerPool } from '../../sidecar/mcp/pool.js';
import { Router, type RouterOptions } from '../../sidecar/mcp/router.js';
import { SharedPool } from '../../sidecar/mcp/shared-pool.js';
import { ToolPolicy } from '../../sidecar/mcp/tool-policy.js';
import { IsolatedPool } from '../../sidecar/mcp/isolated-pool.js';
import type { WorkerOptions } from '../../sidecar/mcp/worker.js';
import { Metrics } from '../../sidecar/metrics.js';

export type Message = Record<string, any>;

/** A tool: its answer (a result, undefined for none) and, optionally, annotations. */
export interface MemoryTool {
  annotations?: Record<string, unknown>;
  call(
    args: Record<string, any>,
    ctx: { id: number; request: Message; server: MemoryServer },
  ): Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;
}

let nextPid = 1_000_000;

export class MemoryServer implements ServerProcess {
  readonly pid = nextPid++;
  readonly exited: Promise<ExitInfo>;
  running = true;
  /** Every message the server received, as it received it (ids as the sidecar rewrote them). */
  readonly received: Message[] = [];
  private settle!: (info: ExitInfo) => void;

  constructor(
    private readonly events: ChildEvents,
    private readonly tools: Record<string, MemoryTool>,
  ) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
  }

  send(serialized: string): boolean {
    if (!this.running) return false;
    const message = JSON.parse(serialized) as Message;
    this.received.push(message);
    queueMicrotask(() => void this.handle(message));
    return true;
  }

  /** A message from the server, as if printed on its stdout. */
  emit(message: Message): void {
    const line = JSON.stringify(message);
    if (this.running) queueMicrotask(() => this.events.message(JSON.parse(line), line));
  }

  /** The process dies (kill -9). */
  crash(reason = 'MCP server process killed by SIGKILL (in a test)'): void {
    if (!this.running) return;
    this.running = false;
    this.settle({ code: null, signal: 'SIGKILL', reason });
  }

  async stop(_timings: StopTimings): Promise<ExitInfo> {
    this.crash('MCP server process exited with code 0 (stopped by the sidecar)');
    return this.exited;
  }

  kill(): void {
    this.crash();
  }

  private async handle(message: Message): Promise<void> {
    if (typeof message.method !== 'string' || !('id' in message)) return;
    const reply = (result: Record<string, unknown>) => this.emit({ jsonrpc: '2.0', id: message.id, result });
    switch (message.method) {
      case 'initialize':
        return reply({
          protocolVersion: message.params.protocolVersion,
          capabilities: { tools: {}, logging: {} },
          serverInfo: { name: 'memory-server', version: '1.0.0' },
        });
      case 'ping':
        return reply({});
      case 'tools/list':
        return reply({
          tools: Object.entries(this.tools).map(([name, t]) => ({
            name,
            inputSchema: { type: 'object' },
            ...(t.annotations ? { annotations: t.annotations } : {}),
          })),
        });
      case 'tools/call': {
        const tool = this.tools[message.params.name];
        if (!tool)
          return this.emit({ jsonrpc: '2.0', id: message.id, error: { code: -32602, message: 'unknown tool' } });
        const result = await tool.call(message.params.arguments ?? {}, {
          id: message.id,
          request: message,
          server: this,
        });
        if (result) reply(result);
        return;
      }
      default:
        this.emit({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32601, message: `method not found: ${message.method}` },
        });
    }
  }
}

/** A client end that records what it is sent. */
export class RecordingClient implements ClientChannel {
  readonly sent: Array<{ message: Message; related?: string | number }> = [];
  readonly abandoned: Array<string | number> = [];
  closed: string | undefined;
  onmessage?: (message: JsonRpcMessage) => void;

  send(message: JsonRpcMessage, related?: string | number): void {
    this.sent.push({ message: message as Message, related });
  }

  close(reason: string): void {
    this.closed = reason;
  }

  abandon(related: string | number): void {
    this.abandoned.push(related);
  }

  hasOpenStream(): boolean {
    return false;
  }

  /** A message from this client to the router. */
  receive(message: Message): void {
    this.onmessage?.(message as JsonRpcMessage);
  }

  /** The response for `id`, once it came. */
  async response(id: string | number, timeoutMs = 2000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.sent.find((s) => s.message.id === id && !('method' in s.message));
      if (found) return found.message;
      if (Date.now() > deadline)
        throw new Error(
          `no response for ${JSON.stringify(id)} within ${timeoutMs} ms; sent: ${JSON.stringify(this.sent).slice(0, 500)}`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export interface Core {
  router: Router;
  pool: WorkerPool;
  /** The in-memory servers, in the order they were started. */
  servers: MemoryServer[];
  metrics: Metrics;
  stop(): Promise<void>;
}

const QUIET = createLogger('silent');

/** A router over a real pool of in-memory servers, started and READY. */
export async function startCore(
  tools: Record<string, MemoryTool>,
  options: Partial<RouterOptions> & { mode?: 'shared' | 'isolated' } = {},
): Promise<Core> {
  const servers: MemoryServer[] = [];
  const workerOptions: WorkerOptions = {
    child: { command: 'memory', args: [], env: {}, maxMessageBytes: 1 << 20 },
    handshakeTimeoutMs: 2000,
    pingIntervalMs: 60_000,
    pingTimeoutMs: 1000,
    pingMisses: 2,
    clientInfo: { name: 'test', version: '1' },
    start: (events) => {
      const server = new MemoryServer(events, tools);
      servers.push(server);
      return server;
    },
  };
  const policy = { minDelayMs: 20, maxDelayMs: 50, crashLoopFailures: 5, windowMs: 10_000 };
  const pool: WorkerPool =
    options.mode === 'isolated'
      ? new IsolatedPool(0, workerOptions, policy, QUIET)
      : new SharedPool(1, workerOptions, policy, QUIET);
  const metrics = new Metrics({
    inflight: () => 0,
    sessions: () => 0,
    readyWorkers: () => 0,
    queueDepth: () => 0,
    waitingForReady: () => 0,
    publisherStates: () => [],
    inputPending: () => 0,
  });
  const router = new Router(
    pool,
    {
      requestTimeoutMs: 1000,
      sessionIdleMs: 60_000,
      maxSessions: 10,
      maxInflight: 100,
      maxSessionInflight: 10,
      readyWaitMs: 2000,
      retryIdempotent: true,
      inputWaitMs: 60_000,
      maxPendingInput: 10,
      tools: new ToolPolicy([], []),
      ...options,
    },
    metrics,
    QUIET,
  );
  pool.on('worker', (worker) => router.attach(worker));
  pool.on('up', () => router.workerUp());
  pool.on('gone', (worker, reason) => router.closeSessionsOf(worker, reason));
  const up = new Promise((resolve) => pool.once('up', resolve));
  pool.start();
  await up;
  return {
    router,
    pool,
    servers,
    metrics,
    stop: async () => {
      router.closeAll('test over');
      await pool.stop({ stdinGraceMs: 10, termGraceMs: 10 });
    },
  };
}

/** Opens a session on the router for a recording client. */
export async function openSession(core: Core, capabilities: Record<string, unknown> = {}): Promise<RecordingClient> {
  const client = new RecordingClient();
  await core.router.openSession(
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 't', version: '1' } },
    },
    client,
  );
  return client;
}
