/**
 * Liveness by MCP ping (`server/discover` for a modern server, which has no ping): a real request to the server
 * every interval. A miss marks the worker unhealthy; enough
 * misses in a row mean the server hangs, and it is killed so the supervisor can start a fresh one.
 */
import type { Worker } from './worker.js';

export interface LivenessOptions {
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Missed pings in a row after which the server counts as hung and is killed. */
  pingMisses: number;
}

export type PingResult = { ok: true; latencyMs: number } | { ok: false; reason: string; misses: number };

export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private misses = 0;

  constructor(
    private readonly worker: Worker,
    private readonly opts: LivenessOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.ping(), this.opts.pingIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async ping(): Promise<void> {
    const worker = this.worker;
    const started = performance.now();
    try {
      // A modern (2026-07-28) server has no ping: a server/discover is the cheapest real request it answers.
      const modern = worker.ownParams;
      if (modern) await worker.request('server/discover', modern, this.opts.pingTimeoutMs);
      else await worker.request('ping', undefined, this.opts.pingTimeoutMs);
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      this.misses = 0;
      worker.lastPing = { at: Date.now(), latencyMs };
      if (worker.state === 'unhealthy') worker.state = 'ready';
      worker.emit('ping', { ok: true, latencyMs });
    } catch (err) {
      if (worker.state === 'exited') return;
      this.misses++;
      worker.state = 'unhealthy';
      const reason = `MCP ping failed: ${(err as Error).message} (${this.misses} of ${this.opts.pingMisses} allowed misses)`;
      worker.emit('ping', { ok: false, reason, misses: this.misses });
      if (this.misses >= this.opts.pingMisses) {
        worker.kill(
          `MCP server stopped answering: ${this.misses} pings in a row got no answer within ${this.opts.pingTimeoutMs} ms; killed it as hung`,
        );
      }
    }
  }
}
