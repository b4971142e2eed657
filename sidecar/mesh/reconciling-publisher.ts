/**
 * The one publisher: converges a registry (through its RegistryAdapter) on what the sidecar wants, which is this
 * instance published with the current profile and health, or withdrawn.
 *
 * publish, report and withdraw only record the desired state and wake the loop: nothing here can throw into the
 * caller or hold up serving. The loop is the only code that talks to the registry, so requests never race, and
 * one place decides what happens next:
 *
 *   nothing desired yet (server not READY)   → sleep until something changes
 *   withdrawn                                → adapter.remove(), then stop for good
 *   backing off after a failure              → wait for the retry time (only a withdrawal cuts it short)
 *   otherwise                                → adapter.apply(): one request, or none when the registry holds it
 *   a failure                                → forget beliefs, state 'unreachable' (logged once), capped backoff
 */
import { backoffDelay } from '../child/backoff.js';
import type { Logger } from '../log.js';
import {
  isCompleteProfile,
  type Publisher,
  type PublisherState,
  type PublisherStatus,
  type WorkerHealth,
} from './publisher.js';
import type { ServerProfile } from '../mcp/profile.js';
import { ReconcileLoop, withinDeadline } from './reconcile-loop.js';
import type { HealthReport, RegistryAdapter } from './registry-adapter.js';

/** First retry after a failure; doubles up to the adapter's backoffMaxMs. */
const BACKOFF_MIN_MS = 250;

type Desired = { kind: 'none' } | { kind: 'published'; profile: ServerProfile } | { kind: 'withdrawn' };

export class ReconcilingPublisher implements Publisher {
  readonly kind: string;

  private desired: Desired = { kind: 'none' };
  private health: HealthReport | undefined;

  private state: PublisherState = 'idle';
  private since = new Date().toISOString();
  private lastError: string | undefined;
  private failures = 0;
  /** While backing off after a failure, nothing but a withdrawal makes the loop try sooner than this. */
  private retryAt = 0;

  private readonly loop = new ReconcileLoop(
    () => this.step(),
    (err) => this.failed(err),
  );
  private withdrawn: Promise<void> | undefined;
  private resolveWithdrawn: (() => void) | undefined;

  constructor(
    private readonly adapter: RegistryAdapter,
    private readonly log: Logger,
  ) {
    this.kind = adapter.kind;
  }

  publish(profile: ServerProfile): void {
    if (this.desired.kind === 'withdrawn') return;
    if (!isCompleteProfile(profile)) {
      // Only a finished handshake yields serverInfo, protocol version and tools: anything less is not a
      // server we may announce (no phantom registrations), whoever passed it on.
      this.log.error(
        { ...this.adapter.text.entry, has: Object.keys(profile ?? {}) },
        `ignored an incomplete server profile (no serverInfo, protocolVersion or tools): publishing to ${this.adapter.text.name} only after a complete handshake`,
      );
      return;
    }
    this.desired = { kind: 'published', profile };
    // publish() is called when the server is READY: whatever made it critical before is over.
    if (this.health?.value.status === 'critical') this.health = undefined;
    if (this.state === 'idle') this.setState('pending');
    this.loop.kick();
  }

  report(health: WorkerHealth): void {
    if (this.desired.kind === 'withdrawn') return;
    this.health = { value: health, at: Date.now() };
    // The adapter decides whether this is worth a request now (a change), later (a throttled refresh) or never.
    this.loop.kick();
  }

  withdraw(deadlineMs: number): Promise<void> {
    if (!this.withdrawn) {
      this.withdrawn = new Promise((resolve) => (this.resolveWithdrawn = resolve));
      this.desired = { kind: 'withdrawn' };
      if (!this.adapter.touched) this.finishWithdraw();
      else {
        // Whatever is in flight (a register against a slow registry) must not delay the removal.
        this.adapter.abort();
        this.retryAt = 0;
        this.loop.kick();
      }
    }
    return withinDeadline(this.withdrawn, deadlineMs, () => {
      if (this.state !== 'withdrawn') {
        const { entry, withdrawal, fallback } = this.adapter.text;
        this.log.warn(
          { ...entry, deadlineMs, err: this.lastError },
          `${withdrawal} did not finish within ${deadlineMs} ms; continuing shutdown (${fallback})`,
        );
      }
      this.stopLoop();
    });
  }

  status(): PublisherStatus {
    return {
      publisher: this.kind,
      state: this.state,
      since: this.since,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** One convergence step; returns how long to wait before the next one (unless woken sooner). */
  private async step(): Promise<number> {
    const desired = this.desired;
    if (desired.kind === 'none') return Infinity;
    if (desired.kind === 'withdrawn') {
      await this.adapter.remove();
      this.finishWithdraw();
      return Infinity;
    }
    const now = Date.now();
    if (now < this.retryAt) return this.retryAt - now;
    const step = await this.adapter.apply({ profile: desired.profile, health: this.health, state: this.state, now });
    if (step.converged) this.converged();
    return step.nextMs;
  }

  private converged(): void {
    this.failures = 0;
    this.retryAt = 0;
    if (this.state === 'published') return;
    const { name, where, converged } = this.adapter.text;
    if (this.state === 'unreachable') this.log.info(where, `${name} reachable again; ${converged}`);
    this.lastError = undefined;
    this.setState('published');
  }

  /** Any failure: note it, log only if this changes the state, and back off (capped, with jitter). */
  private failed(err: unknown): number {
    const message = err instanceof Error ? err.message : String(err);
    this.failures++;
    this.adapter.forget();
    this.lastError = message;
    const cap = this.adapter.backoffMaxMs;
    const jittered = backoffDelay(this.failures, BACKOFF_MIN_MS, cap);
    // A withdrawal retries at the loop's pace and ignores retryAt: shutdown has its own deadline.
    this.retryAt = Date.now() + jittered;
    const { name, where } = this.adapter.text;
    if (this.state !== 'unreachable' && this.desired.kind !== 'withdrawn') {
      this.log.warn(
        { ...where, err: message },
        `${name} unreachable or failing (${message}); the sidecar keeps serving, retrying with backoff up to ${Math.round(cap / 1000)} s`,
      );
      this.setState('unreachable');
    } else {
      this.log.debug({ err: message, retryInMs: jittered, failures: this.failures }, `${name} still unreachable`);
    }
    return jittered;
  }

  private finishWithdraw(): void {
    this.setState('withdrawn');
    this.lastError = undefined;
    this.stopLoop();
    this.resolveWithdrawn?.();
  }

  private stopLoop(): void {
    if (this.loop.isStopped) return;
    this.loop.stop();
    this.adapter.close();
  }

  private setState(state: PublisherState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date().toISOString();
  }
}
