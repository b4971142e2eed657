/**
 * Shared session mode: N supervised workers (default one) serve every session; each session is placed on the
 * least-loaded ready worker and answered `initialize` from that worker's cached profile.
 */
import { EventEmitter } from 'node:events';
import type { RestartPolicy } from '../child/backoff.js';
import type { StopTimings } from '../child/stdio-child.js';
import { Supervisor } from '../child/supervisor.js';
import type { Logger } from '../log.js';
import { initializeResult } from './profile.js';
import { NotReadyError, negotiateVersion, type PoolEvents, type WorkerPool, type WorkerStatus } from './pool.js';
import type { Session } from './session.js';
import { Worker, type WorkerOptions } from './worker.js';

export class SharedPool extends EventEmitter<PoolEvents> implements WorkerPool {
  readonly mode = 'shared' as const;
  readonly supervisors: Supervisor<Worker>[];

  constructor(count: number, workerOptions: WorkerOptions, policy: RestartPolicy, log: Logger) {
    super();
    this.supervisors = Array.from({ length: count }, (_, slot) => {
      const slotLog = count > 1 ? log.child({ worker: slot }) : log;
      return new Supervisor<Worker>(() => this.spawn(workerOptions, slotLog).ready(), policy, {
        up: (worker) => this.emit('up', worker),
        down: (reason, retryInMs) => this.emit('down', reason, retryInMs),
      });
    });
  }

  /** A new server process, announced before it says anything (listeners attach to it on `worker`). */
  spawn(options: WorkerOptions, log: Logger): Worker {
    const worker = new Worker(options, log);
    this.emit('worker', worker);
    return worker;
  }

  details(): Record<string, unknown> {
    return {};
  }

  start(): void {
    for (const s of this.supervisors) s.start();
  }

  async stop(timings: StopTimings): Promise<void> {
    await Promise.all(this.supervisors.map((s) => s.stop((worker) => worker.stop(timings))));
  }

  workers(): Worker[] {
    const list: Worker[] = [];
    for (const s of this.supervisors) if (s.current && s.current.state !== 'exited') list.push(s.current);
    return list;
  }

  ready(): Worker[] {
    return this.workers().filter((w) => w.state === 'ready');
  }

  /** Least calls in flight wins; an unhealthy worker (missed a ping) only when no healthy one is left. */
  private pick(): Worker | undefined {
    let best: Worker | undefined;
    for (const s of this.supervisors) {
      // Every REST and modern request picks: no array per call, just the supervisors' current workers.
      const w = s.current;
      if (!w || w.state === 'exited') continue;
      if (
        !best ||
        (w.state === 'ready' && best.state !== 'ready') ||
        (w.state === best.state && w.inflight < best.inflight)
      )
        best = w;
    }
    return best;
  }

  async openWorker(initialize: Record<string, unknown>) {
    const worker = this.pick();
    if (!worker) {
      const { reason, retryAfterSeconds } = this.unavailable();
      throw new NotReadyError(`the MCP server is not available: ${reason}`, retryAfterSeconds);
    }
    return { worker, result: initializeResult(worker.profile, negotiateVersion(initialize.protocolVersion)) };
  }

  workerFor(session: Session): Worker | undefined {
    return session.worker.state === 'exited' ? this.pick() : session.worker;
  }

  release(): void {}

  allWorkers(): Worker[] {
    return this.workers();
  }

  anyWorker(): Worker | undefined {
    return this.pick();
  }

  unavailable(): { reason: string; retryAfterSeconds: number } {
    const s = this.supervisors[0];
    const last = s.lastFailure?.reason;
    switch (s.state) {
      case 'failed':
        return {
          reason: `it crash-looped (${s.recentFailures()} failures in the window) and is no longer restarted; last: ${last}. Fix the server and restart the sidecar`,
          retryAfterSeconds: 60,
        };
      case 'backoff': {
        const wait = Math.max(0, (s.nextStartAt ?? Date.now()) - Date.now());
        return {
          reason: `it is restarting after: ${last}; next start in ${Math.ceil(wait / 1000)}s`,
          retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000) + 1),
        };
      }
      case 'stopped':
        return { reason: 'the sidecar is stopping', retryAfterSeconds: 5 };
      default:
        if (s.current?.state === 'unhealthy')
          return {
            reason: 'it is running but missed its last MCP ping; it is killed and restarted if it keeps missing them',
            retryAfterSeconds: 1,
          };
        return {
          reason: last ? `it is starting again after: ${last}` : 'it is starting (handshake in progress)',
          retryAfterSeconds: 1,
        };
    }
  }

  status(): WorkerStatus[] {
    return this.supervisors.map((s, slot) => {
      const w = s.current;
      const status: WorkerStatus = {
        slot,
        state: w && s.state === 'running' ? w.state : s.state,
        restarts: s.restarts,
      };
      if (w) status.pid = w.pid;
      if (w?.profile) status.era = w.profile.era;
      if (w?.lastPing) status.lastPing = { at: new Date(w.lastPing.at).toISOString(), latencyMs: w.lastPing.latencyMs };
      if (s.lastFailure)
        status.lastFailure = { at: new Date(s.lastFailure.at).toISOString(), reason: s.lastFailure.reason };
      if (s.state === 'backoff' && s.nextStartAt) status.nextStartInMs = Math.max(0, s.nextStartAt - Date.now());
      return status;
    });
  }

  /** Whether every supervisor has given up (crash loop everywhere). */
  failed(): boolean {
    return this.supervisors.every((s) => s.state === 'failed');
  }
}
