/**
 * Keeps one supervised thing running: launch, wait for it to end, back off, launch again; stop for good after
 * a crash loop. Generic over what it runs (the MCP layer hands it "spawn + handshake"), so the restart policy
 * lives in exactly one place.
 */
import { RestartTracker, type RestartPolicy } from './backoff.js';
import type { ExitInfo } from './stdio-child.js';

export interface Supervised {
  readonly exited: Promise<ExitInfo>;
}

export type SupervisorState = 'starting' | 'running' | 'backoff' | 'failed' | 'stopped';

export interface SupervisorHooks<T> {
  up(instance: T): void;
  /** The instance ended or could not start; `retryInMs` is null when the supervisor gave up (crash loop). */
  down(reason: string, retryInMs: number | null): void;
}

export class Supervisor<T extends Supervised> {
  state: SupervisorState = 'stopped';
  current: T | undefined;
  restarts = 0;
  lastFailure: { at: number; reason: string } | undefined;
  nextStartAt: number | undefined;

  private readonly tracker: RestartTracker;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly launch: () => Promise<T>,
    policy: RestartPolicy,
    private readonly hooks: SupervisorHooks<T>,
  ) {
    this.tracker = new RestartTracker(policy);
  }

  start(): void {
    this.stopped = false;
    this.loop ??= this.run();
  }

  /** Stops supervising and ends the current instance with `end` (which must resolve once it is gone). */
  async stop(end: (instance: T) => Promise<unknown>): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const instance = this.current;
    if (instance) await end(instance);
    await this.loop;
    // An instance whose launch finished after stop() began is left in `current` by the loop: end it too.
    if (this.current && this.current !== instance) await end(this.current);
    this.current = undefined;
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.state = 'starting';
      this.nextStartAt = undefined;
      let instance: T;
      try {
        instance = await this.launch();
      } catch (err) {
        if (this.stopped) break;
        if (!(await this.failed((err as Error).message))) break;
        continue;
      }
      if (this.stopped) {
        // stop() ran while we were launching: it saw no current instance, so ending this one is ours to do.
        this.current = instance;
        break;
      }
      this.current = instance;
      this.state = 'running';
      this.hooks.up(instance);
      const exit = await instance.exited;
      this.current = undefined;
      if (this.stopped) break;
      if (!(await this.failed(exit.reason))) break;
    }
  }

  /** Records a failure; waits out the backoff. Returns false when the supervisor has given up. */
  private async failed(reason: string): Promise<boolean> {
    this.lastFailure = { at: Date.now(), reason };
    const delay = this.tracker.fail();
    if (delay === null) {
      this.state = 'failed';
      this.hooks.down(reason, null);
      return false;
    }
    this.state = 'backoff';
    this.nextStartAt = Date.now() + delay;
    this.hooks.down(reason, delay);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    if (this.stopped) return false;
    this.restarts++;
    return true;
  }

  recentFailures(): number {
    return this.tracker.recentFailures();
  }
}
