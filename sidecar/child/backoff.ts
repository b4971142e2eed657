/**
 * Backoff for everything the sidecar retries (restarting the MCP server, reaching a registry), and the
 * supervisor's crash-loop breaker. One formula for the whole program, so a restart and a registry retry spread
 * out the same way.
 */

/**
 * Capped exponential backoff with "equal jitter": the n-th failure in a row (n ≥ 1) waits between half and all
 * of `minMs · 2^(n-1)`, capped at `maxMs`. At least half, so a flapping fleet spreads out without anyone
 * retrying at once; the exponent is bounded so a long outage never overflows.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number): number {
  const capped = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  return Math.round(capped / 2 + Math.random() * (capped / 2));
}

/** Restart policy: backoff between starts, and a crash-loop breaker over a window of recent failures. */
export interface RestartPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  /** This many failures inside `windowMs` is a crash loop: stop restarting. */
  crashLoopFailures: number;
  windowMs: number;
}

/**
 * Both the delay and the breaker are derived from one list of recent failure times, so there is no separate
 * counter to forget to reset.
 */
export class RestartTracker {
  private failures: number[] = [];

  constructor(private readonly policy: RestartPolicy) {}

  /** Records a failure now; returns the delay before the next start, or null when this is a crash loop. */
  fail(now = Date.now()): number | null {
    this.failures = this.failures.filter((t) => now - t < this.policy.windowMs);
    this.failures.push(now);
    if (this.failures.length >= this.policy.crashLoopFailures) return null;
    return backoffDelay(this.failures.length, this.policy.minDelayMs, this.policy.maxDelayMs);
  }

  recentFailures(now = Date.now()): number {
    return this.failures.filter((t) => now - t < this.policy.windowMs).length;
  }
}
