/**
 * Kong behind the ReconcilingPublisher: converges Kong (DB mode, Admin API) on the state in kong-state.ts, the
 * server's shared upstreams, services and routes (a round-robin path and a session path), and this instance's own
 * target in both upstreams (kong-targets.ts):
 *
 *   shared entities not upserted yet (first time, Kong was down, verify found them gone) → PUT both upstreams, then
 *                                                   each service, its route (and its upstream-auth plugin)
 *   target wanted (published, child not critical) but not there or with old tags        → POST (409: PATCH it), both
 *   target not wanted (child critical, or withdraw)                                      → DELETE it from both
 *   converged for verifyInterval                                                         → GET routes and targets
 *
 * What it never does: delete an upstream, service or route. Other instances of the same server share them,
 * and "am I the last one?" cannot be answered without a race (another instance may be adding its target at
 * that moment). An upstream left with no targets makes Kong answer 503, which is the truth: no instance is up.
 */
import type { Logger } from '../log.js';
import { serverState, targetState, type KongPath, type KongServerState, type KongTarget } from './kong-state.js';
import type { Instance, PublisherState } from './publisher.js';
import { ReconcilingPublisher } from './reconciling-publisher.js';
import type { RegistryAdapter, RegistryText, Step, Wanted } from './registry-adapter.js';
import { adminHint, kongAdminClient, type KongAdminOptions } from './kong-admin.js';
import { KongTargets } from './kong-targets.js';
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
  private readonly targets: KongTargets;
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
    this.targets = new KongTargets(this.client, instance);
    this.verifyIntervalMs = opts.verifyIntervalMs ?? 30_000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    if (opts.perToolRoutes) this.tools = new KongToolRoutes(this.client, instance, opts.routePath, log);
    this.text = {
      name: 'Kong',
      where: { adminUrl: opts.adminUrl },
      converged: 'routes and targets converged',
      entry: { target: this.targets.address },
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
    // Upstreams first: a service's host names one, and Kong resolves that name only once it exists.
    for (const { upstream } of [shared.session, shared.plain])
      await this.client.request('PUT', `/upstreams/${encodeURIComponent(upstream.name)}`, upstream);
    for (const path of [shared.plain, shared.session]) await this.upsertPath(path);
    this.log.debug(
      { upstreams: [shared.session.upstream.name, shared.plain.upstream.name], route: shared.plain.route.paths[0] },
      'Kong upstreams, services and routes upserted',
    );
  }

  private async upsertPath({ service, route, plugin }: KongPath): Promise<void> {
    const name = encodeURIComponent(service.name);
    await this.client.request('PUT', `/services/${name}`, service);
    await this.client.request('PUT', `/services/${name}/routes/${encodeURIComponent(route.name)}`, route);
    if (!plugin) return;
    // Keyed by instance_name (Kong 3.2+), so every instance of the server upserts the one plugin.
    const path = `/services/${name}/plugins/${encodeURIComponent(plugin.instance_name)}`;
    try {
      await this.client.request('PUT', path, plugin);
    } catch (err) {
      // Kong's answer may quote the config it refused, token and all: the error keeps only the status.
      if (!(err instanceof RegistryError) || err.statusCode === undefined) throw err;
      throw new RegistryError(
        `PUT ${path}: HTTP ${err.statusCode} (Kong's answer is not shown: it may contain the upstream token)${adminHint(err.statusCode, 'PUT', this.opts.adminToken !== undefined)}`,
        err.statusCode,
      );
    }
  }

  private async ensureTarget(body: KongTarget, state: PublisherState): Promise<void> {
    this.touched = true;
    const shape = JSON.stringify(body);
    if (this.target.kind === 'present') {
      // Ours, with other tags (the tool list changed): update in place; 404 means it vanished, so POST next.
      if (!(await this.targets.update(body))) return void (this.target = { kind: 'absent' });
      this.target = { kind: 'present', shape };
      this.log.info({ target: body.target, tags: body.tags }, 'Kong target updated (tool list changed)');
      this.lastVerifiedAt = Date.now();
      return;
    }
    // In it from here on, as far as anyone can tell: the add goes upstream by upstream, and a withdrawal aborts it
    // midway, so a failed add must still be removed on shutdown (the DELETE of one that is not there is harmless).
    this.target = { kind: 'unknown' };
    const added = await this.targets.add(body);
    if (added.kind === 'upstream-gone') {
      this.log.warn({ upstream: added.upstream }, `Kong upstream ${added.upstream} is gone; creating it again`);
      this.sharedApplied = undefined;
      return;
    }
    if (added.kind === 'absent') return void (this.target = { kind: 'absent' });
    this.target = { kind: 'present', shape };
    this.lastVerifiedAt = Date.now();
    if (state === 'published')
      this.log.info(
        { target: body.target, upstreams: this.targets.upstreams },
        `Kong target ${body.target} added again; Kong routes to this instance`,
      );
  }

  private async removeTarget(reason: string): Promise<void> {
    await this.targets.remove();
    const wasThere = this.target.kind !== 'absent';
    this.target = { kind: 'absent' };
    this.lastVerifiedAt = Date.now();
    if (wasThere)
      this.log.warn(
        { target: this.targets.address, upstreams: this.targets.upstreams, reason },
        `Kong target ${this.targets.address} removed: ${reason}`,
      );
  }

  /** Are our routes and (if wanted) targets still in Kong? An operator or a database reset may have removed them. */
  private async verify(): Promise<void> {
    const { plain, session } = serverState(this.instance.name, undefined, this.opts.routePath);
    for (const { service, route } of [plain, session]) {
      try {
        await this.client.request(
          'GET',
          `/services/${encodeURIComponent(service.name)}/routes/${encodeURIComponent(route.name)}`,
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.log.warn(
          { route: route.name },
          `Kong no longer has route ${route.name} (deleted, or Kong's database was reset); creating it again`,
        );
        this.sharedApplied = undefined;
        this.toolsApplied = undefined;
        this.tools?.forget();
        return;
      }
    }
    // Routes of gone tools kept for another instance's tool list: see whether they may go now.
    if (this.tools?.held) this.toolsApplied = undefined;
    if (this.target.kind === 'present') {
      const missing = await this.targets.missingFrom();
      if (missing !== undefined) {
        this.log.warn(
          { target: this.targets.address, upstream: missing },
          `Kong upstream ${missing} no longer has target ${this.targets.address}; adding it again`,
        );
        this.target = { kind: 'absent' };
        return;
      }
    }
    this.lastVerifiedAt = Date.now();
  }

  /** The first convergence: where Kong now routes, and whether this instance is in it yet. */
  private logPublished(critical: string | undefined): void {
    const { plain, session } = serverState(this.instance.name, undefined, this.opts.routePath);
    const route = plain.route.paths[0];
    const target = this.targets.address;
    this.log.info(
      { route, upstreams: this.targets.upstreams, target, routed: critical === undefined },
      `published to Kong: route ${route} → upstream ${plain.upstream.name} (round-robin), ${session.route.paths[0]} with Mcp-Session-Id → upstream ${session.upstream.name} (hashed), target ${target}${critical === undefined ? '' : ' (not routed while the MCP server is down)'}`,
    );
  }
}
