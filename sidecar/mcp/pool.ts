/**
 * What the sidecar needs of a worker pool, whichever session mode it implements: the router's WorkerSource plus
 * lifecycle and status for /readyz, metrics and shutdown.
 */
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './protocol-versions.js';
import type { StopTimings } from '../child/stdio-child.js';
import type { Supervisor } from '../child/supervisor.js';
import type { WorkerSource } from './router.js';
import type { Worker } from './worker.js';

export interface PoolEvents {
  /** A supervised worker is READY (handshaken). */
  up(worker: Worker): void;
  /** A supervised worker ended or failed to start; `retryInMs` null = crash loop, no more restarts. */
  down(reason: string, retryInMs: number | null): void;
  /** Isolated mode: the process behind one session ended; that session cannot continue. */
  sessionWorkerGone(worker: Worker, reason: string): void;
}

export interface WorkerStatus {
  slot: number;
  state: string;
  pid?: number;
  restarts: number;
  lastPing?: { at: string; latencyMs: number };
  lastFailure?: { at: string; reason: string };
  nextStartInMs?: number;
}

export interface WorkerPool extends WorkerSource {
  /** The supervised workers: their READY state is the sidecar's readiness and the registries' health. */
  readonly supervisors: Supervisor<Worker>[];
  start(): void;
  stop(timings: StopTimings): Promise<void>;
  /** Supervised workers that are handshaken and answered their last ping. */
  ready(): Worker[];
  status(): WorkerStatus[];
  /** Every supervisor gave up (crash loop). */
  failed(): boolean;
  /** Every live worker, supervised or not (forced stop). */
  allWorkers(): Worker[];
}

/** The protocol version a client gets: its own when we speak it, else our latest (the client then decides). */
export function negotiateVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}
