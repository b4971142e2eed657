/**
 * Kong behind the ReconcilingPublisher: converges Kong (DB mode, Admin API) on the state in kong-state.ts, the
 * server's shared upstream, service and route, and this instance's own target in the upstream:
 *
 *   shared entities not upserted yet (first time, Kong was down, verify found them gone) → PUT upstream, service, route
 *                                                                                         (and the upstream-auth plugin)
 *   target wanted (published, child not critical) but not there or with old tags        → POST (409: PATCH it)
 *   target not wanted (child critical, or withdraw)                                      → DELETE it (404 is fine)
 *   converged for verifyInterval                                                         → GET route and target: still there?
 *
 * What it never does: delete the upstream, service or route. Other instances of the same server share them,
 * and "am I the last one?" cannot be answered without a race (another instance may be adding its target at
 * that moment). An upstream left with no targets makes Kong answer 503, which is the truth: no instance is up.
 *
 * Kong's real answers, not the OpenAPI document's: POST of an existing target is 409 (so we PATCH it to our
 * tags), PUT/PATCH of a missing target is 404 (so we POST), DELETE of a missing target may be 404 or 204.
 */
import type { Logger } from '../log.js';
import { kongEntityName, serverState, targetState, type KongServerState, type KongTarget } from './kong-state.js';
import type { Instance, PublisherState } from './publisher.js';
import { ReconcilingPublisher } from './reconciling-publisher.js';
import type { RegistryAdapter, RegistryText, Step, Wanted } from './registry-adapter.js';
import { adminHint, kongAdminClient, type KongAdminOptions } from './kong-admin.js';
import { KongToolRoutes } from './kong-tool-sync.js';
import { isNotFound, RegistryError, type RegistryClient } from './registry-client.js';

/** Where the Admin API is and how to reach it (kong-admin.ts), and what to publish there. */
export interface KongPublisherOptions extends KongAdminOptions {
  /** Route path (default /<name>). */
  routePath?: string;
  /**
   * The token Kong sends to every sidecar of the service (`Authorization: Bearer`, by a request-transformer
   * plugin), so callers authenticate at Kong and only Kong can call the sidecars. Never logged.
   */
  upstreamToken?: string;
  /** One route per tool besides the server's (kong-tool-routes.ts), created and removed as tools come and go. */
  perToolRoutes?: boolean;
  /** How often a converged publisher checks that its route and target still exist (default 30 s). */
  verifyIntervalMs?: number;
  /** Longest wait between retries while Kong is down (default 30 s). */
  backoffMaxMs?: number;
}

/** What Kong is believed to hold for our target: nothing, something unknown, or exactly this body (as JSON). */
type TargetBelief = { kind: 'unknown' } | { kind: 'absent' } | { kind: 'present'; shape: string };

/** This instance published to Kong. */
export function kongPublisher(opts: KongPublisherOptions, instance: Instance, log: Logger): ReconcilingPublisher {
  return new ReconcilingPublisher(new KongAdapter(opts, instance, log), log);
}

export class KongAdapter implements RegistryAdapter {
  readonly kind = 'kong';
  readonly text: RegistryText;
  readonly backoffMaxMs: number;
  /** Anything was ever sent to Kong: only then may withdraw have something to remove. */
  touched = false;

  private readonly client: RegistryClient;
  private readonly entity: string;
  private readonly verifyIntervalMs: number;

  /** JSON of the shared entities last upserted; undefined = not (or no longer known to be) in Kong. */
  private sharedApplied: string | undefined;
  private target: TargetBelief = { kind: 'unknown' };
  /** With --kong-per-tool-routes: the tool routes, and the tool list they were last converged on. */
  private readonly tools: KongToolRoutes | undefined;
  private toolsApplied: string | undefined;
  private lastVerifiedAt = 0;

  constructor(
    private readonly opts: KongPublisherOptions,
    private readonly instance: Instance,
    private readonly log: Logger,
  ) {
    this.client = kongAdminClient(opts);
    this.entity = kongEntityName(instance.name);
    this.verifyIntervalMs = opts.verifyIntervalMs ?? 30_000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    if (opts.perToolRoutes) this.tools = new KongToolRoutes(this.client, instance, opts.routePath, log);
    this.text = {
      name: 'Kong',
      where: { adminUrl: opts.adminUrl },
      converged: 'routes and target converged',
      entry: { target: this.targetAddress() },
      withdrawal: 'Kong target removal',
      fallback: "Kong's health checks take the instance out once it stops answering",
    };
  }

  async apply({ profile, health, state, now }: Wanted): Promise<Step> {
    const shared = serverState(
      this.instance.name,
      this.instance.serviceId,
      this.opts.routePath,
      this.opts.upstreamToken,
    );
    const sharedShape = JSON.stringify(shared);
    if (this.sharedApplied !== sharedShape) {
      await this.upsertShared(shared);
      this.sharedApplied = sharedShape;
      return { converged: false, nextMs: 0 };
    }
    if (this.tools && this.toolsApplied !== profile.toolsHash) {
      await this.tools.sync(profile);
      this.toolsApplied = profile.toolsHash;
      return { converged: false, nextMs: 0 };
    }
    // Only the latest report counts: every ping says passing, a crash or hang says why the server is down.
    const critical = health?.value.status === 'critical' ? health.value.reason || 'MCP server down' : undefined;
    if (critical === undefined) {
      const body = targetState(this.instance, profile);
      if (this.target.kind !== 'present' || this.target.shape !== JSON.stringify(body)) {
        await this.ensureTarget(body, state);
        return { converged: false, nextMs: 0 };
      }
    } else if (this.target.kind !== 'absent') {
      await this.removeTarget(critical);
      return { converged: false, nextMs: 0 };
    }
    if (state === 'pending') this.logPublished(critical);
    const verifyIn = this.lastVerifiedAt + this.verifyIntervalMs - now;
    if (verifyIn > 0) return { converged: true, nextMs: verifyIn };
    // Converged before this check, whatever it finds: something gone is put back by the next step.
    await this.verify();
    return { converged: true, nextMs: 0 };
  }

  forget(): void {
    // After an outage Kong may have lost everything (a fresh database): upsert again rather than trust beliefs.
    this.sharedApplied = undefined;
    this.toolsApplied = undefined;
    this.tools?.forget();
    if (this.target.kind === 'present') this.target = { kind: 'unknown' };
  }

  async remove(): Promise<void> {
    if (this.touched && this.target.kind !== 'absent') await this.removeTarget('withdrawn (shutdown)');
  }

  abort(): void {
    this.client.abort();
  }

  close(): void {
    this.client.close();
  }

  private async upsertShared(shared: KongServerState): Promise<void> {
    this.touched = true;
    const name = encodeURIComponent(this.entity);
    // Upstream first: the service's host names it, and Kong resolves that name only once it exists.
    await this.client.request('PUT', `/upstreams/${name}`, shared.upstream);
    await this.client.request('PUT', `/services/${name}`, shared.service);
    await this.client.request('PUT', `/services/${name}/routes/${name}`, shared.route);
    if (shared.plugin) {
      // Keyed by instance_name (Kong 3.2+), so every instance of the server upserts the one plugin.
      const path = `/services/${name}/plugins/${encodeURIComponent(shared.plugin.instance_name)}`;
      try {
        await this.client.request('PUT', path, shared.plugin);
      } catch (err) {
        // Kong's answer may quote the config it refused, token and all: the error keeps only the status.
        if (!(err instanceof RegistryError) || err.statusCode === undefined) throw err;
        throw new RegistryError(
          `PUT ${path}: HTTP ${err.statusCode} (Kong's answer is not shown: it may contain the upstream token)${adminHint(err.statusCode, 'PUT', this.opts.adminToken !== undefined)}`,
          err.statusCode,
        );
      }
    }
    this.log.debug(
      { upstream: this.entity, route: shared.route.paths[0] },
      'Kong upstream, service and route upserted',
    );
  }

  private async ensureTarget(body: KongTarget, state: PublisherState): Promise<void> {
    this.touched = true;
    const shape = JSON.stringify(body);
    const before = this.target;
    if (before.kind === 'present') {
      // Ours, with other tags (the tool list changed): update in place; 404 means it vanished, so POST next.
      if (!(await this.patchTarget(body))) return;
      this.target = { kind: 'present', shape };
      this.log.info({ target: body.target, tags: body.tags }, 'Kong target updated (tool list changed)');
      this.lastVerifiedAt = Date.now();
      return;
    }
    try {
      await this.client.request('POST', `/upstreams/${encodeURIComponent(this.entity)}/targets`, body);
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      if (err.statusCode === 404) {
        // The upstream itself is gone (deleted by hand, Kong's database reset): upsert everything again.
        this.log.warn({ upstream: this.entity }, `Kong upstream ${this.entity} is gone; creating it again`);
        this.sharedApplied = undefined;
        return;
      }
      if (err.statusCode !== 409) throw err;
      // Already there: left by an earlier run of this instance, or our own POST whose answer was lost.
      // Bring its tags and weight to ours.
      if (!(await this.patchTarget(body))) return;
    }
    this.target = { kind: 'present', shape };
    this.lastVerifiedAt = Date.now();
    if (state === 'published')
      this.log.info(
        { target: body.target, upstream: this.entity },
        `Kong target ${body.target} added again; Kong routes to this instance`,
      );
  }

  /** PATCH our target to `body`; false when Kong says it does not exist (then the next step POSTs it). */
  private async patchTarget(body: KongTarget): Promise<boolean> {
    try {
      await this.client.request('PATCH', this.targetPath(), body);
      return true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.target = { kind: 'absent' };
      return false;
    }
  }

  private async removeTarget(reason: string): Promise<void> {
    try {
      await this.client.request('DELETE', this.targetPath());
    } catch (err) {
      // Not there (never added, or removed by someone else) is as good as removed.
      if (!isNotFound(err)) throw err;
    }
    const wasThere = this.target.kind !== 'absent';
    this.target = { kind: 'absent' };
    this.lastVerifiedAt = Date.now();
    if (wasThere)
      this.log.warn(
        { target: this.targetAddress(), upstream: this.entity, reason },
        `Kong target ${this.targetAddress()} removed: ${reason}`,
      );
  }

  /** Are our route and (if wanted) target still in Kong? An operator or a database reset may have removed them. */
  private async verify(): Promise<void> {
    const name = encodeURIComponent(this.entity);
    try {
      await this.client.request('GET', `/services/${name}/routes/${name}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.log.warn(
        { route: this.entity },
        `Kong no longer has route ${this.entity} (deleted, or Kong's database was reset); creating it again`,
      );
      this.sharedApplied = undefined;
      this.toolsApplied = undefined;
      this.tools?.forget();
      return;
    }
    // Routes of gone tools kept for another instance's tool list: see whether they may go now.
    if (this.tools?.held) this.toolsApplied = undefined;
    if (this.target.kind === 'present') {
      try {
        await this.client.request('GET', this.targetPath());
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.log.warn(
          { target: this.targetAddress() },
          `Kong no longer has target ${this.targetAddress()}; adding it again`,
        );
        this.target = { kind: 'absent' };
        return;
      }
    }
    this.lastVerifiedAt = Date.now();
  }

  private targetAddress(): string {
    return targetState(this.instance).target;
  }

  private targetPath(): string {
    // ':' may stay as it is in a path segment (RFC 3986 pchar); brackets of an IPv6 address are escaped.
    return `/upstreams/${encodeURIComponent(this.entity)}/targets/${encodeURIComponent(this.targetAddress()).replace(/%3A/gi, ':')}`;
  }

  /** The first convergence: where Kong now routes, and whether this instance is in it yet. */
  private logPublished(critical: string | undefined): void {
    const route = serverState(this.instance.name, undefined, this.opts.routePath).route.paths[0];
    this.log.info(
      { route, upstream: this.entity, target: this.targetAddress(), routed: critical === undefined },
      `published to Kong: route ${route} → upstream ${this.entity}, target ${this.targetAddress()}${critical === undefined ? '' : ' (not routed while the MCP server is down)'}`,
    );
  }
}
