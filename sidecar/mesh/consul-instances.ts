/**
 * Where the other instances of this service are, as Consul sees them: the passing instances of the service name
 * (`GET /v1/health/service/<name>?passing` at the local agent), for a retry whose call waits at another replica.
 * Only Consul decides where a request may be forwarded to: an address is never taken from the request, so a
 * forged or replayed state cannot make the sidecar call an arbitrary host, only a live instance of its own service.
 */
import { RegistryClient } from './registry-client.js';

export interface InstanceAddress {
  address: string;
  port: number;
}

export interface ConsulInstancesOptions {
  /** Agent HTTP address (what --consul names). */
  url: string;
  /** ACL token (X-Consul-Token); the lookup needs service:read on the name and node:read on its nodes. */
  token?: string;
  ca?: string;
  /** The service name this sidecar registers (--name): the only one it forwards to. */
  service: string;
  timeoutMs: number;
}

/**
 * How long one answer of the agent is reused. Retries of MRTR calls come at human pace, but a burst of them (many
 * clients answering one prompt) should cost the agent one request; an instance that stopped passing is noticed
 * within this time (its own TTL check is seconds, so this adds little).
 */
const CACHE_MS = 1000;
/** A miss in an answer at least this old asks again: the owner may have registered just after it. */
const MISS_REFRESH_MS = 200;

interface HealthEntry {
  Node?: { Address?: string };
  Service?: { ID?: string; Service?: string; Address?: string; Port?: number };
}

export class ConsulInstances {
  private readonly client: RegistryClient;
  private readonly path: string;
  private cached: { at: number; byId: Map<string, InstanceAddress> } | undefined;
  private pending: Promise<Map<string, InstanceAddress>> | undefined;

  constructor(readonly opts: ConsulInstancesOptions) {
    const url = new URL(opts.url);
    this.path = `/v1/health/service/${encodeURIComponent(opts.service)}?passing=true`;
    this.client = new RegistryClient({
      url,
      timeoutMs: opts.timeoutMs,
      ca: opts.ca,
      headers: opts.token ? { 'x-consul-token': opts.token } : {},
      hint: (status) =>
        status === 403
          ? `: the ACL token may not read service "${opts.service}": add service "${opts.service}" { policy = "write" } and node_prefix "" { policy = "read" } (consul/sidecar-policy.hcl)`
          : '',
    });
  }

  /**
   * The address of the instance `serviceId` when Consul lists it as a passing instance of this service;
   * undefined when it does not. Throws a RegistryError when the agent cannot be asked.
   */
  async passing(serviceId: string): Promise<InstanceAddress | undefined> {
    const now = Date.now();
    const cached = this.cached;
    if (cached && now - cached.at < CACHE_MS) {
      const hit = cached.byId.get(serviceId);
      if (hit || now - cached.at < MISS_REFRESH_MS) return hit;
    }
    return (await this.fetch()).get(serviceId);
  }

  close(): void {
    this.client.close();
  }

  /** One request to the agent at a time: concurrent lookups share its answer. */
  private fetch(): Promise<Map<string, InstanceAddress>> {
    this.pending ??= this.client
      .request('GET', this.path)
      .then((body) => {
        const byId = new Map<string, InstanceAddress>();
        for (const entry of Array.isArray(body) ? (body as HealthEntry[]) : []) {
          const service = entry.Service;
          // Consul filters by name already; the check keeps a misbehaving proxy in front of it from widening it.
          if (!service?.ID || service.Service !== this.opts.service || !service.Port) continue;
          // An instance registered without an address is reached at its node's address, as Consul's DNS does.
          const address = service.Address || entry.Node?.Address;
          if (address) byId.set(service.ID, { address, port: service.Port });
        }
        this.cached = { at: Date.now(), byId };
        return byId;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}
