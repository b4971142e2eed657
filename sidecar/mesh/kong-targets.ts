/**
 * This instance's target in the two upstreams of its server (kong-state.ts): the hashed one that legacy sessions
 * reach and the round-robin one for everything else. Both must hold it for Kong to route either kind of request
 * here, and neither may keep it once the instance withdraws, so every operation covers both, one after the other.
 * Each step is idempotent, so a step cut short (Kong down between the two) is finished by the next one.
 *
 * Kong's real answers, not the OpenAPI document's: POST of an existing target is 409 (so we PATCH it to our
 * tags), PUT/PATCH of a missing target is 404 (so we POST), DELETE of a missing target may be 404 or 204.
 */
import { kongUpstreamNames, targetState, type KongInstance, type KongTarget } from './kong-state.js';
import { isNotFound, RegistryError, type RegistryClient } from './registry-client.js';

/** What adding the target found: done, the target vanished under a PATCH, or an upstream is gone. */
export type AddResult = { kind: 'added' } | { kind: 'absent' } | { kind: 'upstream-gone'; upstream: string };

export class KongTargets {
  /** `host:port`, as Kong names the target. */
  readonly address: string;
  readonly upstreams: readonly string[];

  constructor(
    private readonly client: RegistryClient,
    instance: KongInstance,
  ) {
    this.address = targetState(instance).target;
    this.upstreams = kongUpstreamNames(instance.name);
  }

  /** POST into each upstream; one that has it already (an earlier run, a lost answer) is PATCHed to `body`. */
  async add(body: KongTarget): Promise<AddResult> {
    for (const upstream of this.upstreams) {
      try {
        await this.client.request('POST', `/upstreams/${encodeURIComponent(upstream)}/targets`, body);
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        // The upstream itself is gone (deleted by hand, Kong's database reset): the caller upserts it again.
        if (err.statusCode === 404) return { kind: 'upstream-gone', upstream };
        if (err.statusCode !== 409) throw err;
        if (!(await this.patchOne(upstream, body))) return { kind: 'absent' };
      }
    }
    return { kind: 'added' };
  }

  /** PATCH the target in each upstream; false when one does not have it (then the next step POSTs). */
  async update(body: KongTarget): Promise<boolean> {
    for (const upstream of this.upstreams) if (!(await this.patchOne(upstream, body))) return false;
    return true;
  }

  /** DELETE from each upstream; not there (never added, or removed by someone else) is as good as removed. */
  async remove(): Promise<void> {
    for (const upstream of this.upstreams) {
      try {
        await this.client.request('DELETE', this.path(upstream));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** The first upstream that no longer has the target (removed by an operator, a database reset), if any. */
  async missingFrom(): Promise<string | undefined> {
    for (const upstream of this.upstreams) {
      try {
        await this.client.request('GET', this.path(upstream));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return upstream;
      }
    }
    return undefined;
  }

  private async patchOne(upstream: string, body: KongTarget): Promise<boolean> {
    try {
      await this.client.request('PATCH', this.path(upstream), body);
      return true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return false;
    }
  }

  private path(upstream: string): string {
    // ':' may stay as it is in a path segment (RFC 3986 pchar); brackets of an IPv6 address are escaped.
    return `/upstreams/${encodeURIComponent(upstream)}/targets/${encodeURIComponent(this.address).replace(/%3A/gi, ':')}`;
  }
}
