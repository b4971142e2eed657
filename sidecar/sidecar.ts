/**
 * Composition and lifecycle: the worker pool, the router, the HTTP server and the publishers, wired so that
 * registries follow the live process (publish on READY, report every ping, fail at once on exit or hang) and
 * shutdown runs in the one safe order: withdraw → drain → stop the server process → close HTTP.
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { childEnvironment } from './child/child-env.js';
import { OrphanGuard } from './child/orphan-guard.js';
import type { Config } from './config.js';
import { createHandler, type Readiness } from './http/app.js';
import { BodyReader } from './http/body.js';
import { createHttpServer } from './http/http-server.js';
import { buildOriginPolicy } from './http/origin-guard.js';
import { RestTools } from './http/rest-tools.js';
import { StreamableHttp } from './http/streamable-http.js';
import type { Logger } from './log.js';
import { kongEntityName } from './mesh/kong-state.js';
import type { Instance, Publisher, ServerProfile, WorkerHealth } from './mesh/publisher.js';
import { Metrics } from './metrics.js';
import { IsolatedPool } from './mcp/isolated-pool.js';
import { Router } from './mcp/router.js';
import type { WorkerPool } from './mcp/pool.js';
import { SharedPool } from './mcp/shared-pool.js';
import type { Worker, WorkerHooks, WorkerOptions } from './mcp/worker.js';

export const SIDECAR_VERSION = '0.1.0';

export type PublisherFactory = (instance: Instance) => Promise<Publisher[]>;

export class Sidecar {
  readonly metrics: Metrics;
  readonly router: Router;
  readonly pool: WorkerPool;
  private readonly transport: StreamableHttp;
  private readonly server: Server;
  private readonly orphanGuard: OrphanGuard;
  private publishers: Publisher[] = [];
  private publishedHash: string | undefined;
  private draining = false;
  private garbageLogged = 0;
  private readonly startedAt = Date.now();
  instance!: Instance;
  url = '';

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly makePublishers: PublisherFactory,
    private readonly onFatal: (code: number) => void,
  ) {
    this.metrics = new Metrics({
      inflight: () => this.router.inflight,
      sessions: () => this.router.sessions.size,
      readyWorkers: () => this.pool.ready().length,
      queueDepth: () => this.pool.allWorkers().reduce((n, w) => n + w.inflight, this.router.waiting),
      waitingForReady: () => this.router.waiting,
      publisherStates: () => this.publishers.map((p) => p.status()),
    });
    const serverLog = log.child({ server: config.name });
    this.orphanGuard = new OrphanGuard(log.child({ part: 'orphans' }));
    const workerOptions: WorkerOptions = {
      child: {
        command: config.command,
        args: config.args,
        env: childEnvironment(process.env, config.passEnv, config.env),
        cwd: config.cwd,
        maxMessageBytes: config.maxMessageBytes,
        guard: this.orphanGuard,
      },
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      pingIntervalMs: config.pingIntervalMs,
      pingTimeoutMs: config.pingTimeoutMs,
      pingMisses: config.pingMisses,
      clientInfo: { name: 'mcp-sidecar', version: SIDECAR_VERSION },
    };
    const policy = {
      minDelayMs: config.restartMinMs,
      maxDelayMs: config.restartMaxMs,
      crashLoopFailures: config.crashLoopRestarts,
      windowMs: config.crashLoopWindowMs,
    };
    const hooks: WorkerHooks = {
      serverRequest: (worker, request) => this.router.serverRequest(worker, request),
      notification: (worker, note) => this.router.notificationFromServer(worker, note),
      garbageLine: (_worker, line, reason) => this.garbage(serverLog, line, reason),
      pingResult: (worker, result) => this.pingResult(worker, result),
      profileChanged: (_worker, profile) => this.profileChanged(profile, true),
    };
    const events = {
      up: (worker: Worker) => this.workerUp(worker),
      down: (reason: string, retry: number | null) => this.workerDown(reason, retry),
      sessionWorkerGone: (worker: Worker, reason: string) => {
        this.router.workerGone(worker);
        this.router.closeSessionsOf(worker, `its MCP server process ended: ${reason}`);
      },
    };
    this.pool =
      config.sessionMode === 'isolated'
        ? new IsolatedPool(config.warm, workerOptions, policy, hooks, events, serverLog)
        : new SharedPool(config.workers, workerOptions, policy, hooks, events, serverLog);
    this.router = new Router(
      this.pool,
      {
        requestTimeoutMs: config.requestTimeoutMs,
        sessionIdleMs: config.sessionIdleMs,
        maxSessions: config.maxSessions,
        maxInflight: config.maxInflight,
        maxSessionInflight: config.maxSessionInflight,
        readyWaitMs: config.readyWaitMs,
        retryIdempotent: config.retryIdempotent,
      },
      this.metrics,
      log.child({ part: 'router' }),
    );
    // One reader for /mcp and /tools: the --max-body-reading budget counts every body being read.
    const body = new BodyReader({ maxBytes: config.maxBodyBytes, maxDepth: config.maxDepth, maxReadingBytes: config.maxBodyReadingBytes });
    this.transport = new StreamableHttp(
      this.router,
      {
        body,
        maxBatch: config.maxBatch,
        keepAliveMs: config.keepAliveMs,
        streamBufferBytes: config.streamBufferBytes,
        eventStore: { maxEvents: config.eventStoreEvents, maxBytes: config.eventStoreBytes },
        onSlowStreamClosed: () => this.metrics.slowStreamsClosed.inc(),
      },
      log.child({ part: 'http' }),
    );
    const handler = createHandler({
      mcp: this.transport,
      rest: new RestTools(this.router, this.pool, body),
      metrics: this.metrics,
      readiness: () => this.readiness(),
      liveness: () => ({ status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) }),
      originPolicy: buildOriginPolicy(config.host, ownHostNames(config), config.allowedHosts, config.allowedOrigins),
      log,
    });
    this.server = createHttpServer(handler, { headerTimeoutMs: config.headerTimeoutMs, bodyTimeoutMs: config.bodyTimeoutMs, maxConnections: config.maxConnections }, log.child({ part: 'http' }));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${this.config.port} on ${this.config.host} is in use; pick another with --port (0 = any free port)`) : err);
      });
      this.server.listen(this.config.port, this.config.host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    this.url = `http://${host}:${port}`;
    const advertiseHost = this.config.advertise?.host ?? (this.config.host === '0.0.0.0' || this.config.host === '::' ? hostname() : this.config.host);
    const advertisePort = this.config.advertise?.port ?? port;
    this.instance = {
      name: this.config.name,
      serviceId: this.config.serviceId ?? `${this.config.name}-${advertiseHost}-${advertisePort}`.replace(/[^A-Za-z0-9_.-]/g, '-'),
      advertiseHost,
      advertisePort,
      sessionMode: this.config.sessionMode,
      sidecarVersion: SIDECAR_VERSION,
    };
    this.publishers = await this.makePublishers(this.instance);
    if (this.config.allowedHosts.length === 0 && !['127.0.0.1', 'localhost', '::1'].includes(this.config.host)) {
      this.log.warn({ host: this.config.host }, 'bound to a non-loopback address without --allowed-hosts: any Host header is accepted; keep this sidecar on a private network or set --allowed-hosts');
    }
    // Before the first spawn: the records are keyed by the service id, known only now.
    this.orphanGuard.start(this.instance.serviceId);
    this.pool.start();
    return this.url;
  }

  readiness(): Readiness {
    const workers = this.pool.status();
    const ready = !this.draining && this.pool.ready().length > 0;
    const status = this.draining ? 'draining' : ready ? 'ready' : this.pool.failed() ? 'failed' : 'not-ready';
    const body: Record<string, unknown> = {
      status,
      name: this.config.name,
      worker: workers[0],
      sessions: this.router.sessions.size,
      inflight: this.router.inflight,
      publishers: this.publishers.map((p) => p.status()),
    };
    if (workers.length > 1) body.workers = workers;
    if (this.pool instanceof IsolatedPool) body.isolated = this.pool.counts();
    if (!ready) body.reason = this.draining ? 'the sidecar is shutting down' : this.pool.unavailable().reason;
    return { ready, body };
  }

  private workerUp(worker: Worker): void {
    const p = worker.profile;
    this.log.info(
      { pid: worker.pid, server: p.serverInfo, protocolVersion: p.protocolVersion, tools: p.tools.length, toolsHash: p.toolsHash },
      `READY: ${p.serverInfo.name} ${p.serverInfo.version} handshaken with ${p.tools.length} tools`,
    );
    if (this.pool.supervisors.some((s) => s.restarts > 0)) this.metrics.childRestarts.inc();
    this.profileChanged(p, false);
    this.report({ status: 'passing', latencyMs: 0, toolCount: p.tools.length });
    this.router.workerUp();
  }

  private workerDown(reason: string, retryInMs: number | null): void {
    this.metrics.childExits.labels(retryInMs === null ? 'crash-loop' : 'exit').inc();
    for (const worker of this.pool.supervisors.map((s) => s.current)) if (worker?.state === 'exited') this.router.workerGone(worker);
    if (this.pool.ready().length === 0) this.report({ status: 'critical', reason });
    if (retryInMs === null) {
      if (this.pool.failed()) this.router.stopWaiting();
      this.log.error({ reason }, `MCP server crash-looped (${this.config.crashLoopRestarts} failures within ${this.config.crashLoopWindowMs / 1000}s): no more restarts. /readyz reports "failed". Last failure: ${reason}`);
      if (this.config.exitOnFailure && this.pool.failed()) void this.shutdown('crash loop (--exit-on-failure)').then(() => this.onFatal(1));
      return;
    }
    this.log.warn({ reason, retryInMs }, `MCP server down: ${reason}; restarting in ${retryInMs} ms`);
  }

  private pingResult(worker: Worker, result: { ok: true; latencyMs: number } | { ok: false; reason: string; misses: number }): void {
    if (result.ok) {
      this.metrics.pingLatency.observe(result.latencyMs / 1000);
      if (this.pool.ready().length > 0) this.report({ status: 'passing', latencyMs: result.latencyMs, toolCount: worker.profile.tools.length });
      return;
    }
    this.log.warn({ pid: worker.pid, misses: result.misses }, result.reason);
    if (this.pool.ready().length === 0) this.report({ status: 'critical', reason: result.reason });
  }

  /**
   * A worker's tool list is new or changed. `sessionsTold`: the server announced the change itself, and the router
   * already forwarded that notification to the sessions on its worker. A restarted shared worker that comes back
   * with other tools announces nothing, so the sidecar tells the sessions (which move to it on their next call).
   * Isolated sessions keep their own processes, so a restarted primary changes nothing for them.
   */
  private profileChanged(profile: ServerProfile, sessionsTold: boolean): void {
    if (profile.toolsHash === this.publishedHash) return;
    const previous = this.publishedHash;
    this.publishedHash = profile.toolsHash;
    if (previous !== undefined) {
      this.log.info({ toolsHash: profile.toolsHash, tools: profile.tools.length }, 'tool list changed; telling registries');
      if (!sessionsTold && this.config.sessionMode === 'shared') {
        for (const session of this.router.sessions.values()) session.sink.deliver({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
      }
    }
    for (const p of this.publishers) p.publish(profile);
  }

  private report(health: WorkerHealth): void {
    for (const p of this.publishers) p.report(health);
  }

  private garbage(log: Logger, line: string, reason: string): void {
    this.metrics.garbageLines.inc();
    // A server that prints garbage often would drown the log: the first lines in full, then one in a hundred.
    if (this.garbageLogged++ < 20 || this.garbageLogged % 100 === 0) {
      log.warn({ line: line.slice(0, 300), reason, seen: this.garbageLogged }, 'ignored a line on the MCP server stdout that is not a JSON-RPC message (servers must log to stderr)');
    }
  }

  /** The safe order: out of the registries first, then let in-flight calls finish, then stop the server. */
  async shutdown(why: string): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.router.draining = true;
    this.log.info({ why, inflight: this.router.inflight }, 'shutting down: withdrawing from registries');
    await Promise.all(this.publishers.map((p) => p.withdraw(5000)));
    const deadline = Date.now() + this.config.shutdownGraceMs;
    while (this.router.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.router.inflight > 0) this.log.warn({ inflight: this.router.inflight }, 'shutdown grace ran out; failing the requests still in flight');
    this.router.closeAll('the sidecar is shutting down');
    this.transport.close();
    const stopTimings = { stdinGraceMs: this.config.stopTimeoutMs, termGraceMs: this.config.stopTimeoutMs };
    await this.pool.stop(stopTimings);
    this.orphanGuard.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.log.info('stopped');
  }

  /** Second signal: no more patience. */
  forceStop(): void {
    for (const worker of this.pool.allWorkers()) worker.kill('forced stop (second signal)');
  }
}

/** Host names the mesh reaches this sidecar by: the advertised host, and Kong's upstream when Kong is in use. */
function ownHostNames(config: Config): string[] {
  const names: string[] = [];
  if (config.advertise) names.push(config.advertise.host);
  if (config.kong) names.push(kongEntityName(config.name));
  return names;
}
