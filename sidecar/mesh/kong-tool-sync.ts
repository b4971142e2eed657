/**
 * The Kong publisher's per-tool routes (kong-tool-routes.ts) against the Admin API: routes of the tools in the
 * profile are created or replaced with PUT, which keeps the route's id and so every plugin an operator attached to
 * it; the sidecar never deletes and recreates a route that should exist. A route is deleted only when the sidecar
 * owns it (tags `managed-by:mcp-sidecar`, `mcp-server:<name>` and an `mcp-tool:` tag) and its tool is gone from the
 * tool list, and then only while no other instance of the server serves another tool list (a rolling upgrade: the
 * other instance may still have the tool). Deleting a route makes Kong delete its plugins: that is what a gone
 * tool means, and the README says so.
 */
import type { Logger } from '../log.js';
import type { ServerProfile } from '../mcp/profile.js';
import { kongEntityName, kongTag, kongTags, MANAGED_BY_TAG, targetState, type KongInstance } from './kong-state.js';
import { toolOfRoute, toolRoutes } from './kong-tool-routes.js';
import { isNotFound, type RegistryClient } from './registry-client.js';

interface Listed {
  data?: Array<{ name?: string; target?: string; tags?: string[] | null }>;
  next?: string | null;
}

/** Pages of a Kong list followed at most this far (1,000 entities a page). */
const MAX_PAGES = 20;

export class KongToolRoutes {
  /** JSON of each route as last PUT, by name: unchanged routes are not sent again. */
  private readonly applied = new Map<string, string>();
  /** Routes of gone tools were kept because another instance serves another tool list: look again later. */
  held = false;
  private readonly service: string;

  constructor(
    private readonly client: RegistryClient,
    private readonly instance: KongInstance,
    private readonly routePath: string | undefined,
    private readonly log: Logger,
  ) {
    this.service = encodeURIComponent(kongEntityName(instance.name));
  }

  /** Kong may have lost or changed anything: send every route again next time. */
  forget(): void {
    this.applied.clear();
  }

  async sync(profile: ServerProfile): Promise<void> {
    const names = profile.tools.map((t) => t.name);
    const wanted = toolRoutes(this.instance.name, this.instance.serviceId, this.routePath, names);
    for (const route of wanted) {
      const shape = JSON.stringify(route);
      if (this.applied.get(route.name) === shape) continue;
      await this.client.request('PUT', `/services/${this.service}/routes/${encodeURIComponent(route.name)}`, route);
      this.applied.set(route.name, shape);
    }
    await this.removeGone(new Set(wanted.map((r) => r.name)), profile.toolsHash);
  }

  private async removeGone(wanted: Set<string>, toolsHash: string): Promise<void> {
    const tags = encodeURIComponent(kongTags(this.instance.name).join(','));
    const owned = await this.list(`/services/${this.service}/routes?tags=${tags}&size=1000`);
    const gone = owned.filter((r) => r.name !== undefined && toolOfRoute(r) !== undefined && !wanted.has(r.name));
    if (gone.length === 0) return void (this.held = false);
    const others = await this.otherToolLists(toolsHash);
    if (others.length > 0) {
      if (!this.held)
        this.log.info(
          { routes: gone.map((r) => r.name), instances: others },
          'Kong routes of tools this instance no longer has are kept: another instance serves another tool list',
        );
      this.held = true;
      return;
    }
    for (const route of gone) {
      try {
        await this.client.request('DELETE', `/services/${this.service}/routes/${encodeURIComponent(route.name!)}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.applied.delete(route.name!);
      this.log.info(
        { route: route.name, tool: toolOfRoute(route) },
        `Kong route ${route.name} removed: its tool is gone from the tool list`,
      );
    }
    this.held = false;
  }

  /** Targets of other instances whose tool list differs from ours (by the tools-hash tag on each target). */
  private async otherToolLists(toolsHash: string): Promise<string[]> {
    const upstream = encodeURIComponent(kongEntityName(this.instance.name));
    const targets = await this.list(`/upstreams/${upstream}/targets?size=1000`);
    const own = targetState(this.instance).target;
    const mine = kongTag('mcp-tools', toolsHash);
    return targets
      .filter((t) => t.target !== own && t.tags?.includes(MANAGED_BY_TAG))
      .filter((t) => t.tags?.some((tag) => tag.startsWith('mcp-tools:')) && !t.tags.includes(mine))
      .map((t) => t.target!);
  }

  private async list(path: string): Promise<NonNullable<Listed['data']>> {
    const out: NonNullable<Listed['data']> = [];
    let next: string | null | undefined = path;
    for (let page = 0; next && page < MAX_PAGES; page++) {
      const listed = (await this.client.request('GET', next)) as Listed;
      out.push(...(listed.data ?? []));
      next = listed.next;
    }
    return out;
  }
}
