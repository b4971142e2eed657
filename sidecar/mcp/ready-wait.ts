/**
 * Requests that arrive while the server is starting or restarting wait for it (--ready-wait) instead of failing:
 * a crash costs the calls in flight, not the ones that come during the restart. Waiting stops at once when it
 * cannot help: the server crash-looped, or the sidecar is stopping.
 */
interface Waiter {
  timer: NodeJS.Timeout;
  done(ok: boolean): void;
}

export class ReadyWait {
  private readonly waiters = new Set<Waiter>();
  private stopped = false;

  constructor(
    private readonly waitMs: number,
    /** Whether a server is coming: false once every supervisor gave up. */
    private readonly coming: () => boolean,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  /** Whether waiting can help now. */
  possible(): boolean {
    return this.waitMs > 0 && !this.stopped && this.coming();
  }

  /** `done(true)` when a server is READY, `done(false)` when --ready-wait ran out or waiting stopped. */
  whenReady(done: (ok: boolean) => void): void {
    const waiter: Waiter = {
      timer: setTimeout(() => {
        this.waiters.delete(waiter);
        done(false);
      }, this.waitMs),
      done,
    };
    this.waiters.add(waiter);
  }

  ready(): Promise<boolean> {
    return new Promise((resolve) => this.whenReady(resolve));
  }

  /** A server is READY: everyone waiting goes on. */
  up(): void {
    this.release(true);
  }

  /** Waiting cannot help any more (crash loop): everyone waiting fails now. */
  giveUp(): void {
    this.release(false);
  }

  /** The sidecar is stopping: no more waiting, now or later. */
  stop(): void {
    this.stopped = true;
    this.release(false);
  }

  private release(ok: boolean): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.done(ok);
    }
  }
}
