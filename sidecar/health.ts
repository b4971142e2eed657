/**
 * The sidecar's health, fed by the pool's events and each supervised worker's pings: what /readyz answers and
 * what the registries are told. Events: `health` after every change of liveness (READY, each ping, exit, hang,
 * crash loop), `profile` when the published tool list is new (first READY, a run-time change, a restart that
 * came back with other tools), and `failed` when every supervisor gave up.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from './log.js';
import type { ServerProfile } from './mcp/profile.js';
import type { WorkerPool } from './mcp/pool.js';
import type { Worker } from './mcp/worker.js';
import type { WorkerHealth } from './mesh/publisher.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  body: Record<string, unknown>;
}

interface HealthEvents {
  health: [health: WorkerHealth];
  /** `announced`: the server said so itself (list_changed), so sessions were already told. */
  profile: [profile: ServerProfile, change: { first: boolean; announced: boolean }];
  failed: [reason: string];
}

export class Health extends EventEmitter<HealthEvents> {
  /** The sidecar is shutting down: not ready, whatever the server does. */
  draining = false;
  private publishedHash: string | undefined;

  constructor(
    private readonly pool: WorkerPool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly crashLoop: { restarts: number; windowMs: number },
  ) {
    super();
    pool.on('up', (worker) => this.up(worker));
    pool.on('down', (reason, retryInMs) => this.down(reason, retryInMs));
  }

  /** /readyz: the pool's state and `extra` (the sidecar's counts); 503 unless a server is READY. */
  readiness(extra: Record<string, unknown>): Readiness {
    const workers = this.pool.status();
    const ready = !this.draining && this.pool.ready().length > 0;
    const status = this.draining ? 'draining' : ready ? 'ready' : this.pool.failed() ? 'failed' : 'not-ready';
    const body: Record<string, unknown> = { status, ...extra, worker: workers[0], ...this.pool.details() };
    if (workers.length > 1) body.workers = workers;
    if (!ready) body.reason = this.draining ? 'the sidecar is shutting down' : this.pool.unavailable().reason;
    return { ready, body };
  }

  private up(worker: Worker): void {
    const p = worker.profile;
    this.log.info(
      {
        pid: worker.pid,
        server: p.serverInfo,
        era: p.era,
        protocolVersion: p.protocolVersion,
        tools: p.tools.length,
        toolsHash: p.toolsHash,
      },
      `READY: ${p.serverInfo.name} ${p.serverInfo.version} handshaken with ${p.tools.length} tools (${p.era === 'modern' ? 'a modern MCP 2026-07-28 server: server/discover answered' : 'a legacy MCP server: initialize'})`,
    );
    if (this.pool.supervisors.some((s) => s.restarts > 0)) this.metrics.childRestarts.inc();
    worker.on('ping', (result) => {
      if (result.ok) {
        this.metrics.pingLatency.observe(result.latencyMs / 1000);
        if (this.pool.ready().length > 0)
          this.emit('health', {
            status: 'passing',
            latencyMs: result.latencyMs,
            toolCount: worker.profile.tools.length,
          });
        return;
      }
      this.log.warn({ pid: worker.pid, misses: result.misses }, result.reason);
      if (this.pool.ready().length === 0) this.emit('health', { status: 'critical', reason: result.reason });
    });
    // A session's own process changing its tools concerns that session only; the published profile follows the
    // supervised workers.
    worker.on('profile', (profile) => this.profileChanged(profile, true));
    this.profileChanged(p, false);
    this.emit('health', { status: 'passing', latencyMs: 0, toolCount: p.tools.length });
  }

  private down(reason: string, retryInMs: number | null): void {
    this.metrics.childExits.labels(retryInMs === null ? 'crash-loop' : 'exit').inc();
    if (this.pool.ready().length === 0) this.emit('health', { status: 'critical', reason });
    if (retryInMs !== null) {
      this.log.warn({ reason, retryInMs }, `MCP server down: ${reason}; restarting in ${retryInMs} ms`);
      return;
    }
    this.log.error(
      { reason },
      `MCP server crash-looped (${this.crashLoop.restarts} failures within ${this.crashLoop.windowMs / 1000}s): no more restarts. /readyz reports "failed". Last failure: ${reason}`,
    );
    if (this.pool.failed()) this.emit('failed', reason);
  }

  private profileChanged(profile: ServerProfile, announced: boolean): void {
    if (profile.toolsHash === this.publishedHash) return;
    const first = this.publishedHash === undefined;
    this.publishedHash = profile.toolsHash;
    if (!first)
      this.log.info(
        { toolsHash: profile.toolsHash, tools: profile.tools.length },
        'tool list changed; telling registries',
      );
    this.emit('profile', profile, { first, announced });
  }
}
