/**
 * Phantom registrations: Consul lists the instance passing while its server is not up. The watch polls the
 * real agent (the service's checks) and the sidecar (/readyz, and whether its process runs) a few times a second.
 *
 * Consul can only learn of a death as fast as the design lets it: the sidecar fails its TTL check at once when
 * it sees the server go, but a sidecar that is itself killed leaves the check to expire after one TTL. So:
 * - passing before the sidecar was ever ready is a phantom at once (registered before the handshake);
 * - passing while the sidecar has said "not ready" (or been gone) for longer than one TTL plus a poll's slack
 *   is a phantom.
 * Each uninterrupted stretch of phantom samples counts once.
 */
import type { ConsulAgent } from '../../test/support/consul-agent.js';
import { checkStatuses } from '../../test/support/consul-sidecar.js';

type Readiness = 'ready' | 'not-ready' | 'unknown';

export class PhantomWatch {
  episodes = 0;
  private everReady = false;
  private notReadySince: number | undefined = Date.now();
  private inEpisode = false;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private readonly slackMs = 1500;

  constructor(
    private readonly consul: ConsulAgent,
    private readonly serviceId: string,
    private readonly url: string,
    private readonly sidecarRunning: () => boolean,
    private readonly ttlMs: number,
  ) {}

  start(intervalMs = 250): this {
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll());
    }, intervalMs);
    return this;
  }

  private async readiness(): Promise<Readiness> {
    if (!this.sidecarRunning()) return 'not-ready';
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200 ? 'ready' : 'not-ready';
    } catch (err) {
      // refused: nothing listens any more; a timeout says nothing (a busy sidecar is not a dead server)
      return (err as Error).name === 'TimeoutError' ? 'unknown' : 'not-ready';
    }
  }

  /** All of the service's checks passing (and at least one); false when the agent cannot be asked. */
  private async passing(): Promise<boolean> {
    try {
      const checks = Object.values(await checkStatuses(this.consul, this.serviceId));
      return checks.length > 0 && checks.every((c) => c.Status === 'passing');
    } catch {
      return false;
    }
  }

  private async poll(): Promise<void> {
    const ready = await this.readiness();
    const now = Date.now();
    if (ready === 'ready') {
      this.everReady = true;
      this.notReadySince = undefined;
    } else if (ready === 'not-ready') this.notReadySince ??= now;
    const passing = await this.passing();
    const downTooLong =
      this.notReadySince !== undefined && (!this.everReady || now - this.notReadySince > this.ttlMs + this.slackMs);
    const phantom = passing && ready !== 'ready' && downTooLong;
    if (phantom && !this.inEpisode) this.episodes++;
    this.inEpisode = phantom;
  }

  /**
   * After the sidecar has ended: keep watching until Consul no longer lists it passing, or one TTL plus slack
   * (and a poll more) has passed, so that a registration left passing is seen.
   */
  async settle(): Promise<number> {
    const deadline = Date.now() + this.ttlMs + this.slackMs + 1000;
    while (Date.now() < deadline && (await this.passing())) await new Promise((r) => setTimeout(r, 250));
    await this.polling;
    await this.poll();
    this.stop();
    return this.episodes;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
