/**
 * Isolated session mode: a server process per MCP session, for servers that keep per-connection state.
 *
 * One supervised "primary" worker stays up beside the sessions: its handshake is the server's profile (what the
 * registries publish), its pings are the instance's health, and it serves session-less REST calls. Each session
 * gets its own process: a warm spare (pre-started and handshaken by the sidecar, so opening a session costs no
 * process boot) when one is ready, otherwise a fresh process that receives the client's own `initialize`.
 * A session's process is stopped when the session ends; a session whose process dies is closed, so its client
 * gets 404 and starts a new session, as the spec intends.
 */
import { EventEmitter } from 'node:events';
import type { RestartPolicy } from '../child/backoff.js';
import type { StopTimings } from '../child/stdio-child.js';
import type { Supervisor } from '../child/supervisor.js';
import type { Logger } from '../log.js';
import { NotReadyError, negotiateVersion, type PoolEvents, type WorkerPool, type WorkerStatus } from './pool.js';
import { initializeResult } from './profile.js';
import type { Session } from './session.js';
import { SharedPool } from './shared-pool.js';
import type { Worker, WorkerOptions } from './worker.js';

/** How long a spare that failed to start waits before the pool tries another (no hot loop on a broken server). */
const SPARE_RETRY_MS = 1000;

export class IsolatedPool extends EventEmitter<PoolEvents> implements WorkerPool {
  readonly mode = 'isolated' as const;
  private readonly primary: SharedPool;
  private readonly spares: Worker[] = [];
  private sparesStarting = 0;
  private readonly sessionWorkers = new Set<Worker>();
  private stopping = false;
  private stopTimings: StopTimings = { stdinGraceMs: 2000, termGraceMs: 2000 };

  constructor(
    private readonly warm: number,
    private readonly workerOptions: WorkerOptions,
    policy: RestartPolicy,
    private readonly log: Logger,
  ) {
    super();
    // The primary's events are the pool's; every process it or the sessions spawn is announced as `worker`.
    this.primary = new SharedPool(1, workerOptions, policy, log);
    this.primary.on('worker', (worker) => this.emit('worker', worker));
    this.primary.on('down', (reason, retryInMs) => this.emit('down', reason, retryInMs));
    this.primary.on('up', (worker) => {
      this.emit('up', worker);
      this.refill();
    });
  }

  get supervisors(): Supervisor<Worker>[] {
    return this.primary.supervisors;
  }

  start(): void {
    this.primary.start();
  }

  async stop(timings: StopTimings): Promise<void> {
    this.stopping = true;
    this.stopTimings = timings;
    const others = [...this.spares.splice(0), ...this.sessionWorkers];
    await Promise.all([this.primary.stop(timings), ...others.map((w) => w.stop(timings))]);
  }

  ready(): Worker[] {
    return this.primary.ready();
  }

  status(): WorkerStatus[] {
    return this.primary.status();
  }

  failed(): boolean {
    return this.primary.failed();
  }

  unavailable(): { reason: string; retryAfterSeconds: number } {
    return this.primary.unavailable();
  }

  anyWorker(): Worker | undefined {
    return this.primary.anyWorker();
  }

  allWorkers(): Worker[] {
    return [...this.primary.allWorkers(), ...this.spares, ...this.sessionWorkers];
  }

  /** Counts for /readyz and the benchmark. */
  details(): Record<string, unknown> {
    return {
      isolated: { sessions: this.sessionWorkers.size, spares: this.spares.length, sparesStarting: this.sparesStarting },
    };
  }

  async openWorker(initialize: Record<string, unknown>): Promise<{ worker: Worker; result: Record<string, unknown> }> {
    if (this.primary.ready().length === 0) {
      const { reason, retryAfterSeconds } = this.primary.unavailable();
      throw new NotReadyError(`the MCP server is not available: ${reason}`, retryAfterSeconds);
    }
    const spare = this.spares.shift();
    this.refill();
    if (spare) {
      this.adopt(spare);
      return { worker: spare, result: initializeResult(spare.profile, negotiateVersion(initialize.protocolVersion)) };
    }
    let worker: Worker;
    try {
      // A modern server has no initialize: its session process is handshaken like a spare, the session's
      // client is introduced in every request's _meta instead.
      const modern = this.workerOptions.era?.era === 'modern';
      const options = modern ? this.workerOptions : { ...this.workerOptions, clientInitialize: initialize };
      worker = await this.primary.spawn(options, this.log).ready();
    } catch (err) {
      throw new NotReadyError(`could not start a server process for this session: ${(err as Error).message}`, 1);
    }
    if (this.stopping) {
      void worker.stop(this.stopTimings);
      throw new NotReadyError('the sidecar is shutting down', 5);
    }
    this.adopt(worker);
    return {
      worker,
      result: worker.initializeResult ?? initializeResult(worker.profile, negotiateVersion(initialize.protocolVersion)),
    };
  }

  /** A session keeps its own process; if that process is gone the session is over (no silent switch). */
  workerFor(session: Session): Worker | undefined {
    return session.worker.state === 'exited' ? undefined : session.worker;
  }

  release(session: Session): void {
    const worker = session.worker;
    if (!this.sessionWorkers.delete(worker)) return;
    void worker.stop(this.stopTimings);
  }

  private adopt(worker: Worker): void {
    this.sessionWorkers.add(worker);
    void worker.exited.then((exit) => {
      // Still ours means nobody released it: the process died under a live session.
      if (this.sessionWorkers.delete(worker) && !this.stopping) this.emit('gone', worker, exit.reason);
    });
  }

  /** Keeps `warm` handshaken spares, but only while the server is healthy (a broken server gets no spares). */
  private refill(): void {
    while (!this.stopping && this.primary.ready().length > 0 && this.spares.length + this.sparesStarting < this.warm) {
      this.sparesStarting++;
      this.primary
        .spawn(this.workerOptions, this.log.child({ spare: true }))
        .ready()
        .then(
          (worker) => {
            this.sparesStarting--;
            if (this.stopping) return void worker.stop(this.stopTimings);
            this.spares.push(worker);
            void worker.exited.then(() => {
              const index = this.spares.indexOf(worker);
              if (index === -1) return;
              this.spares.splice(index, 1);
              setTimeout(() => this.refill(), SPARE_RETRY_MS).unref();
            });
          },
          (err: Error) => {
            this.sparesStarting--;
            this.log.warn({ err: err.message }, `a warm spare failed to start; retrying in ${SPARE_RETRY_MS} ms`);
            setTimeout(() => this.refill(), SPARE_RETRY_MS).unref();
          },
        );
    }
  }
}
