/**
 * Consul behind the ReconcilingPublisher: what "apply the desired state" means for the local agent. This
 * instance is registered with the current profile, and the "MCP ping" TTL check follows the worker's health:
 *
 *   not registered (first time, profile changed, agent forgot us, Consul was down) → register (checks included)
 *   health changed, or passing due again (at most every checkTtl/3)             → update the TTL check
 *   nothing verified for checkTtl/2                                               → GET the service: still there?
 *
 * "Registered" is a belief each step re-checks: a 404 from a check update or the service GET (a `-dev` agent
 * restarted, an operator deregistered us) sends it back to registering, so the service returns within one TTL.
 */
import type { Logger } from '../log.js';
import { ConsulApi } from './consul-api.js';
import { pingCheckId, pingCheckOutput, serviceRegistration, type ServiceRegistration } from './consul-registration.js';
import type { Instance, WorkerHealth } from './publisher.js';
import { ReconcilingPublisher } from './reconciling-publisher.js';
import type { HealthReport, RegistryAdapter, RegistryText, Step, Wanted } from './registry-adapter.js';
import { isNotFound } from './registry-client.js';

export interface ConsulPublisherOptions {
  /** Agent HTTP address, e.g. http://127.0.0.1:8500. */
  url: string;
  /** ACL token, sent as X-Consul-Token and never logged. */
  token?: string;
  /** PEM CA for an https:// agent whose certificate the system CAs do not vouch for. */
  ca?: string;
  deregisterAfterMs: number;
  checkTtlMs: number;
  tags: string[];
  /** The sidecar's /readyz as the agent reaches it (for the agent's own HTTP check). */
  readyzUrl: string;
}

/** Longest any one call to the agent may take: a hung agent is "unreachable", not a stuck loop. */
const REQUEST_TIMEOUT_MS = 5000;

/** This instance published to Consul. */
export function consulPublisher(opts: ConsulPublisherOptions, instance: Instance, log: Logger): ReconcilingPublisher {
  return new ReconcilingPublisher(new ConsulAdapter(opts, instance, log), log);
}

export class ConsulAdapter implements RegistryAdapter {
  readonly kind = 'consul';
  readonly text: RegistryText;
  /** Retry at least every second, and often enough to re-register within one TTL once the agent is back. */
  readonly backoffMaxMs: number;
  /** A register request was sent at least once, so a withdrawal must deregister even if we never saw the answer. */
  touched = false;

  private readonly api: ConsulApi;
  /** JSON of the registration the agent is believed to hold; undefined = not registered (or no longer trusted). */
  private applied: string | undefined;
  /** The TTL check status and output last accepted by the agent, and when. */
  private sent: { status: 'passing' | 'critical'; output: string; at: number } | undefined;
  private lastVerifiedAt = 0;

  constructor(
    private readonly opts: ConsulPublisherOptions,
    private readonly instance: Instance,
    private readonly log: Logger,
  ) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new Error(`--consul "${opts.url}" is not a URL: use the agent's HTTP address, e.g. http://127.0.0.1:8500`);
    }
    this.api = new ConsulApi({
      url,
      token: opts.token,
      ca: opts.ca,
      service: instance.name,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    this.backoffMaxMs = Math.min(30_000, Math.max(1000, opts.checkTtlMs / 3));
    this.text = {
      name: 'Consul',
      where: { url: opts.url },
      converged: 'registration converged',
      entry: { serviceId: instance.serviceId },
      withdrawal: 'Consul deregistration',
      fallback: 'the agent reaps the service after its check stays critical for the deregister-after time',
    };
  }

  async apply({ profile, health, now }: Wanted): Promise<Step> {
    const registration = serviceRegistration(this.instance, profile, this.opts);
    const shape = JSON.stringify(registration);
    if (this.applied !== shape) {
      await this.register(registration, shape);
      return { converged: true, nextMs: 0 };
    }
    const healthDue = this.healthDue(health, now);
    if (healthDue === 0) return { converged: await this.updatePing(health!.value, now), nextMs: 0 };
    const verifyIn = this.lastVerifiedAt + this.opts.checkTtlMs / 2 - now;
    if (verifyIn <= 0) return { converged: await this.verify(), nextMs: 0 };
    return { converged: true, nextMs: Math.min(verifyIn, healthDue) };
  }

  forget(): void {
    this.applied = undefined;
    this.sent = undefined;
  }

  async remove(): Promise<void> {
    if (!this.touched) return;
    try {
      await this.api.deregister(this.instance.serviceId);
    } catch (err) {
      // Already gone is as good as removed.
      if (!isNotFound(err)) throw err;
    }
    this.applied = undefined;
    this.log.info({ serviceId: this.instance.serviceId }, `deregistered ${this.instance.serviceId} from Consul`);
  }

  abort(): void {
    this.api.abort();
  }

  close(): void {
    this.api.close();
  }

  /** The report, if it is recent enough to vouch for (a passing older than the TTL proves nothing). */
  private freshHealth(health: HealthReport, now: number): WorkerHealth | undefined {
    if (health.value.status === 'passing' && now - health.at > this.opts.checkTtlMs) return undefined;
    return health.value;
  }

  /** 0 when the TTL check should be updated now, else ms until a throttled passing refresh is due (or Infinity). */
  private healthDue(report: HealthReport | undefined, now: number): number {
    if (this.applied === undefined || !report) return Infinity;
    const health = this.freshHealth(report, now);
    // A passing too old to vouch for is never sent: the TTL runs out and the agent marks the check critical.
    if (!health) return Infinity;
    const output = pingCheckOutput(health);
    if (!this.sent || this.sent.status !== health.status) return 0;
    if (health.status === 'critical') return this.sent.output === output ? Infinity : 0;
    // A passing already reported: refresh it at most every checkTtl/3, and only with a ping newer than the last.
    if (report.at <= this.sent.at) return Infinity;
    return Math.max(0, this.sent.at + this.opts.checkTtlMs / 3 - now);
  }

  private async register(registration: ServiceRegistration, shape: string): Promise<void> {
    const first = this.applied === undefined;
    this.touched = true;
    await this.api.register(registration);
    this.applied = shape;
    // The definition left the TTL check at "warning": the next step writes the verified status with its output
    // (which also proves the check exists). Until then nothing counts as sent.
    this.sent = undefined;
    this.lastVerifiedAt = Date.now();
    if (first) {
      this.log.info(
        {
          serviceId: registration.ID,
          service: registration.Name,
          address: `${registration.Address}:${registration.Port}`,
          tags: registration.Tags.length,
        },
        `registered in Consul as ${registration.ID} (${registration.Tags.length} tags)`,
      );
    } else {
      this.log.info(
        {
          serviceId: registration.ID,
          tools: registration.Meta.mcp_tool_count,
          toolsHash: registration.Meta.mcp_tools_hash,
        },
        'updated the Consul registration (profile changed)',
      );
    }
  }

  /** Writes the TTL check; false when the agent no longer has it (then the next step registers again). */
  private async updatePing(health: WorkerHealth, now: number): Promise<boolean> {
    const output = pingCheckOutput(health);
    try {
      await this.api.updateTtl(pingCheckId(this.instance.serviceId), health.status, output);
    } catch (err) {
      if (this.forgotten(err)) return false;
      throw err;
    }
    if (health.status === 'critical' && this.sent?.status !== 'critical') {
      this.log.warn(
        { serviceId: this.instance.serviceId, reason: health.reason },
        'Consul MCP ping check set critical',
      );
    } else if (health.status === 'passing' && this.sent?.status === 'critical') {
      this.log.info({ serviceId: this.instance.serviceId }, 'Consul MCP ping check passing again');
    }
    this.sent = { status: health.status, output, at: now };
    this.lastVerifiedAt = Date.now();
    return true;
  }

  /** Is the agent still holding our service? (It may have restarted empty, or an operator removed us.) */
  private async verify(): Promise<boolean> {
    try {
      await this.api.service(this.instance.serviceId);
    } catch (err) {
      if (this.forgotten(err)) return false;
      throw err;
    }
    this.lastVerifiedAt = Date.now();
    return true;
  }

  /** A 404 on our own service or check: the agent no longer has it. Registering again is the next step. */
  private forgotten(err: unknown): boolean {
    if (!isNotFound(err)) return false;
    this.log.warn(
      { serviceId: this.instance.serviceId },
      'the Consul agent no longer has this service (agent restarted or operator deregistered it); registering again',
    );
    this.forget();
    return true;
  }
}
