/**
 * Restart policy: exponential backoff with jitter, and a crash-loop breaker. Both are derived from one list of
 * recent failure times, so there is no separate counter to forget to reset.
 */
export interface RestartPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  /** This many failures inside `windowMs` is a crash loop: stop restarting. */
  crashLoopFailures: number;
  windowMs: number;
}

export class RestartTracker {
  private failures: number[] = [];

  constructor(private readonly policy: RestartPolicy) {}

  /** Records a failure now; returns the delay before the next start, or null when this is a crash loop. */
  fail(now = Date.now()): number | null {
    this.failures = this.failures.filter((t) => now - t < this.policy.windowMs);
    this.failures.push(now);
    if (this.failures.length >= this.policy.crashLoopFailures) return null;
    const exp = this.policy.minDelayMs * 2 ** (this.failures.length - 1);
    const capped = Math.min(this.policy.maxDelayMs, exp);
    // "Equal jitter": at least half the delay, so a flapping fleet spreads out without restarting instantly.
    return Math.round(capped / 2 + Math.random() * (capped / 2));
  }

  recentFailures(now = Date.now()): number {
    return this.failures.filter((t) => now - t < this.policy.windowMs).length;
  }
}
