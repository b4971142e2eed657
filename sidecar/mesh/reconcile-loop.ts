/**
 * The loop every publisher runs: one step at a time, each returning how long until the next is due; woken
 * early by kick() whenever the desired state changes. Only one step is ever in flight, so the registry never
 * sees two of our requests racing, and the publisher's public methods only record what they want and kick.
 */
export class ReconcileLoop {
  private running = false;
  private stopped = false;
  private kicked = false;
  private wake: (() => void) | undefined;

  /**
   * @param step one convergence step; resolves with the delay (ms, Infinity = until kicked) before the next.
   * @param failed turns an error thrown by a step into the delay before retrying (the backoff lives there).
   */
  constructor(
    private readonly step: () => Promise<number>,
    private readonly failed: (err: unknown) => number,
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Run a step soon: now if idle or sleeping, right after the current one if a step is in flight. */
  kick(): void {
    this.kicked = true;
    if (!this.running && !this.stopped) {
      this.running = true;
      // Not synchronously: callers often record two things in a row (publish, then report), and the first
      // step should see both.
      setImmediate(() => void this.run());
    }
    this.wake?.();
  }

  /** No more steps (the one in flight finishes on its own; abort its request to hurry it). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false;
      let delay: number;
      try {
        delay = await this.step();
      } catch (err) {
        delay = this.stopped ? Infinity : this.failed(err);
      }
      if (this.stopped) break;
      if (!this.kicked) await this.sleep(delay);
    }
    this.running = false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      // Unref'd: a publisher waiting for its next refresh never keeps the process alive by itself.
      const timer = setTimeout(done, Number.isFinite(ms) ? Math.max(0, ms) : 2 ** 31 - 1);
      timer.unref();
      this.wake = done;
    });
  }
}

/**
 * Resolves when `done` does, or once `deadlineMs` has passed (then `onDeadline` runs first), so a registry
 * that is down never stalls the shutdown that awaits a withdrawal.
 */
export function withinDeadline(done: Promise<void>, deadlineMs: number, onDeadline: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onDeadline();
      resolve();
    }, deadlineMs);
  });
  return Promise.race([done, deadline]).finally(() => clearTimeout(timer));
}
