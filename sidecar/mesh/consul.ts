/**
 * Consul publisher: one reconcile loop that converges the local Consul agent on what the sidecar wants
 * (this instance registered with the current profile, or withdrawn) and keeps the "MCP ping" TTL check in step
 * with the worker's health.
 *
 * Everything the sidecar calls (publish, report, withdraw, status) only records the desired state and wakes
 * the loop: nothing here can throw into the caller or hold up serving. The loop is the only code that talks to
 * Consul, so there are never two requests racing each other, and one place decides what to do next:
 *
 *   not registered (first time, profile changed, agent forgot us, Consul was down) → register (checks included)
 *   health changed, or passing due again (at most every checkTtl/3)             → update the TTL check
 *   nothing verified for checkTtl/2                                               → GET the service: still there?
 *   Consul down or failing                                                        → state 'unreachable', capped backoff
 *
 * "Registered" is a belief the loop re-checks: a 404 from a check update or the service GET (a `-dev` agent
 * restarted, an operator deregistered us) sends it back to registering, so the service returns within one TTL.
 */
import type { Logger } from '../log.js';
import { pingCheckId, pingCheckOutput, serviceRegistration, type ServiceRegistration } from './consul-registration.js';
import { isCompleteProfile, type Instance, type Publisher, type PublisherState, type PublisherStatus, type ServerProfile, type WorkerHealth } from './publisher.js';
import { backoffDelay, ReconcileLoop, withinDeadline } from './reconcile-loop.js';
import { isNotFound, RegistryClient } from './registry-client.js';

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
const BACKOFF_MIN_MS = 250;

type Desired = { kind: 'none' } | { kind: 'registered'; profile: ServerProfile } | { kind: 'withdrawn' };

export class ConsulPublisher implements Publisher {
  readonly kind = 'consul';

  private readonly client: RegistryClient;
  private desired: Desired = { kind: 'none' };
  private health: { value: WorkerHealth; at: number } | undefined;

  /** JSON of the registration the agent is believed to hold; undefined = not registered (or no longer trusted). */
  private applied: string | undefined;
  /** A register request was sent at least once, so withdraw must deregister even if we never saw the answer. */
  private everRegistered = false;
  /** The TTL check status and output last accepted by the agent, and when. */
  private sent: { status: 'passing' | 'critical'; output: string; at: number } | undefined;
  private lastVerifiedAt = 0;

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
    this.client = new RegistryClient({
      url,
      timeoutMs: REQUEST_TIMEOUT_MS,
      ca: opts.ca,
      headers: opts.token ? { 'x-consul-token': opts.token } : {},
      hint: (status) =>
        status === 403
          ? ': the ACL token lacks permission (needs service:write on this service name; see consul/sidecar-policy.hcl) or is missing (CONSUL_HTTP_TOKEN or --consul-token-file)'
          : '',
    });
  }

  publish(profile: ServerProfile): void {
    if (this.desired.kind === 'withdrawn') return;
    if (!isCompleteProfile(profile)) {
      // Only a finished handshake yields serverInfo, protocol version and tools: anything less is not a
      // server we may announce (no phantom registrations), whoever passed it on.
      this.log.error({ serviceId: this.instance.serviceId, has: Object.keys(profile ?? {}) }, 'ignored an incomplete server profile (no serverInfo, protocolVersion or tools): registering only after a complete handshake');
      return;
    }
    this.desired = { kind: 'registered', profile };
    if (this.state === 'idle') this.setState('pending');
    this.loop.kick();
  }

  report(health: WorkerHealth): void {
    if (this.desired.kind === 'withdrawn') return;
    this.health = { value: health, at: Date.now() };
    // The loop decides whether this is worth a request now (a change) or later (a throttled passing refresh).
    this.loop.kick();
  }

  withdraw(deadlineMs: number): Promise<void> {
    if (!this.withdrawn) {
      this.withdrawn = new Promise((resolve) => (this.resolveWithdrawn = resolve));
      const wasNone = this.desired.kind === 'none';
      this.desired = { kind: 'withdrawn' };
      if (wasNone) this.finishWithdraw();
      else {
        // Whatever is in flight (a register against a slow agent) must not delay the deregistration.
        this.client.abort();
        this.retryAt = 0;
        this.loop.kick();
      }
    }
    return withinDeadline(this.withdrawn, deadlineMs, () => {
      if (this.state !== 'withdrawn') {
        this.log.warn(
          { serviceId: this.instance.serviceId, deadlineMs, err: this.lastError },
          `Consul deregistration did not finish within ${deadlineMs} ms; continuing shutdown (the agent reaps the service after its check stays critical for the deregister-after time)`,
        );
      }
      this.stopLoop();
    });
  }

  status(): PublisherStatus {
    return { publisher: this.kind, state: this.state, since: this.since, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  // ---- the loop ----

  /** One convergence step; returns how long to wait before the next one (unless woken sooner). */
  private async step(): Promise<number> {
    const desired = this.desired;
    if (desired.kind === 'none') return Infinity;
    if (desired.kind === 'withdrawn') {
      await this.deregister();
      return Infinity;
    }
    const now = Date.now();
    if (now < this.retryAt) return this.retryAt - now;

    const registration = serviceRegistration(this.instance, desired.profile, this.opts);
    const shape = JSON.stringify(registration);
    if (this.applied !== shape) {
      await this.register(registration, shape);
      return 0;
    }
    if (this.healthDue(now) === 0) {
      await this.updatePing(now);
      return 0;
    }
    const verifyIn = this.lastVerifiedAt + this.opts.checkTtlMs / 2 - now;
    if (verifyIn <= 0) {
      await this.verify();
      return 0;
    }
    return Math.min(verifyIn, this.healthDue(now));
  }

  /** The last report, if it is recent enough to vouch for (a passing older than the TTL proves nothing). */
  private freshHealth(now: number): WorkerHealth | undefined {
    if (!this.health) return undefined;
    if (this.health.value.status === 'passing' && now - this.health.at > this.opts.checkTtlMs) return undefined;
    return this.health.value;
  }

  /** 0 when the TTL check should be updated now, else ms until a throttled passing refresh is due (or Infinity). */
  private healthDue(now: number): number {
    if (this.applied === undefined || !this.health) return Infinity;
    const health = this.freshHealth(now);
    // A passing too old to vouch for is never sent: the TTL runs out and the agent marks the check critical.
    if (!health) return Infinity;
    const output = pingCheckOutput(health);
    if (!this.sent || this.sent.status !== health.status) return 0;
    if (health.status === 'critical') return this.sent.output === output ? Infinity : 0;
    // A passing already reported: refresh it at most every checkTtl/3, and only with a ping newer than the last.
    if (this.health.at <= this.sent.at) return Infinity;
    return Math.max(0, this.sent.at + this.opts.checkTtlMs / 3 - now);
  }

  private async register(registration: ServiceRegistration, shape: string): Promise<void> {
    const first = this.applied === undefined;
    this.everRegistered = true;
    await this.client.request('PUT', '/v1/agent/service/register?replace-existing-checks=true', registration);
    this.applied = shape;
    // The definition left the TTL check at "warning": the next step writes the verified status with its output
    // (which also proves the check exists). Until then nothing counts as sent.
    this.sent = undefined;
    this.lastVerifiedAt = Date.now();
    this.succeeded();
    if (first) {
      this.log.info(
        { serviceId: registration.ID, service: registration.Name, address: `${registration.Address}:${registration.Port}`, tags: registration.Tags.length },
        `registered in Consul as ${registration.ID} (${registration.Tags.length} tags)`,
      );
    } else {
      this.log.info({ serviceId: registration.ID, tools: registration.Meta.mcp_tool_count, toolsHash: registration.Meta.mcp_tools_hash }, 'updated the Consul registration (profile changed)');
    }
  }

  private async updatePing(now: number): Promise<void> {
    const health = this.health!.value;
    const output = pingCheckOutput(health);
    try {
      await this.client.request('PUT', `/v1/agent/check/update/${encodeURIComponent(pingCheckId(this.instance.serviceId))}`, { Status: health.status, Output: output });
    } catch (err) {
      if (this.forgotten(err)) return;
      throw err;
    }
    if (health.status === 'critical' && this.sent?.status !== 'critical') {
      this.log.warn({ serviceId: this.instance.serviceId, reason: health.reason }, 'Consul MCP ping check set critical');
    } else if (health.status === 'passing' && this.sent?.status === 'critical') {
      this.log.info({ serviceId: this.instance.serviceId }, 'Consul MCP ping check passing again');
    }
    this.sent = { status: health.status, output, at: now };
    this.lastVerifiedAt = Date.now();
    this.succeeded();
  }

  /** Is the agent still holding our service? (It may have restarted empty, or an operator removed us.) */
  private async verify(): Promise<void> {
    try {
      await this.client.request('GET', `/v1/agent/service/${encodeURIComponent(this.instance.serviceId)}`);
    } catch (err) {
      if (this.forgotten(err)) return;
      throw err;
    }
    this.lastVerifiedAt = Date.now();
    this.succeeded();
  }

  /** A 404 on our own service or check: the agent no longer has it. Registering again is the next step. */
  private forgotten(err: unknown): boolean {
    if (!isNotFound(err)) return false;
    this.log.warn({ serviceId: this.instance.serviceId }, 'the Consul agent no longer has this service (agent restarted or operator deregistered it); registering again');
    this.applied = undefined;
    this.sent = undefined;
    return true;
  }

  private async deregister(): Promise<void> {
    if (this.everRegistered) {
      try {
        await this.client.request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(this.instance.serviceId)}`);
      } catch (err) {
        // Already gone is as good as removed.
        if (!isNotFound(err)) throw err;
      }
      this.log.info({ serviceId: this.instance.serviceId }, `deregistered ${this.instance.serviceId} from Consul`);
    }
    this.finishWithdraw();
  }

  private finishWithdraw(): void {
    this.applied = undefined;
    this.setState('withdrawn');
    this.lastError = undefined;
    this.stopLoop();
    this.resolveWithdrawn?.();
  }

  private stopLoop(): void {
    if (this.loop.isStopped) return;
    this.loop.stop();
    this.client.close();
  }

  private succeeded(): void {
    this.failures = 0;
    this.retryAt = 0;
    if (this.state !== 'published') {
      if (this.state === 'unreachable') this.log.info({ url: this.opts.url }, 'Consul reachable again; registration converged');
      this.lastError = undefined;
      this.setState('published');
    }
  }

  /** Any failure: note it, log only if this changes the state, and back off (capped, with jitter). */
  private failed(err: unknown): number {
    const message = err instanceof Error ? err.message : String(err);
    this.failures++;
    // After an outage the agent may be a new one: register again rather than trust what we believed before.
    this.applied = undefined;
    this.sent = undefined;
    this.lastError = message;
    const cap = Math.min(30_000, Math.max(1000, this.opts.checkTtlMs / 3));
    const jittered = backoffDelay(this.failures, BACKOFF_MIN_MS, cap);
    this.retryAt = Date.now() + jittered;
    if (this.state !== 'unreachable' && this.desired.kind !== 'withdrawn') {
      this.log.warn({ url: this.opts.url, err: message }, `Consul unreachable or failing (${message}); the sidecar keeps serving, retrying with backoff up to ${Math.round(cap / 1000)} s`);
      this.setState('unreachable');
    } else {
      this.log.debug({ err: message, retryInMs: jittered, failures: this.failures }, 'Consul still unreachable');
    }
    return jittered;
  }

  private setState(state: PublisherState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date().toISOString();
  }

}
