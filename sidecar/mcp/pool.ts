/**
 * What the sidecar needs of a worker pool, whichever session mode it implements: where sessions and REST calls
 * get their workers (WorkerSource, the router's view), lifecycle and status. Pools are event emitters: `worker`
 * (a server process was spawned: attach to it before it speaks), `up` (a supervised worker is READY), `down`
 * (a supervised worker ended or failed to start) and `gone` (isolated mode: a session's own process ended).
 */
import type { EventEmitter } from 'node:events';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './protocol-versions.js';
import type { StopTimings } from '../child/stdio-child.js';
import type { Supervisor } from '../child/supervisor.js';
import type { Session } from './session.js';
import type { Worker } from './worker.js';

export class NotReadyError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Where sessions get their workers: one shared pool, or a process per session. */
export interface WorkerSource {
  readonly mode: 'shared' | 'isolated';
  /** A worker and the `initialize` result for a new session; throws NotReadyError when there is none. */
  openWorker(initialize: Record<string, unknown>): Promise<{ worker: Worker; result: Record<string, unknown> }>;
  /** The worker for a session's next request (its own if alive; in shared mode another ready one). */
  workerFor(session: Session): Worker | undefined;
  /** The session is over: isolated mode stops its process. */
  release(session: Session): void;
  /** Any ready worker, for session-less REST calls. */
  anyWorker(): Worker | undefined;
  /** Why no worker is available, for error messages; and when to retry. */
  unavailable(): { reason: string; retryAfterSeconds: number };
  /** Every supervisor gave up (crash loop): nothing will become ready by waiting. */
  failed(): boolean;
}

export interface PoolEvents {
  worker: [worker: Worker];
  up: [worker: Worker];
  /** `retryInMs` null = crash loop, no more restarts. */
  down: [reason: string, retryInMs: number | null];
  gone: [worker: Worker, reason: string];
}

export interface WorkerStatus {
  slot: number;
  state: string;
  /** The server's MCP era (legacy: initialize; modern: 2026-07-28), once handshaken. */
  era?: string;
  pid?: number;
  restarts: number;
  lastPing?: { at: string; latencyMs: number };
  lastFailure?: { at: string; reason: string };
  nextStartInMs?: number;
}

export interface WorkerPool extends WorkerSource, EventEmitter<PoolEvents> {
  /** The supervised workers: their READY state is the sidecar's readiness and the registries' health. */
  readonly supervisors: Supervisor<Worker>[];
  start(): void;
  stop(timings: StopTimings): Promise<void>;
  /** Supervised workers that are handshaken and answered their last ping. */
  ready(): Worker[];
  status(): WorkerStatus[];
  /** Mode-specific counts for /readyz (isolated: session processes and spares). */
  details(): Record<string, unknown>;
  /** Every live worker, supervised or not (forced stop, queue depth). */
  allWorkers(): Worker[];
}

/** The protocol version a client gets: its own when we speak it, else our latest (the client then decides). */
export function negotiateVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}
