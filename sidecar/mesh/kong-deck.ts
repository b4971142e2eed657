/**
 * The Kong state of a declarative mesh as a decK state file (`_format_version: "3.0"`): the same entities the
 * publisher writes (kong-state.ts, kong-tool-routes.ts), with routes nested in their service and targets in their
 * upstream (each instance in both upstreams of its server), as decK expects them. `select_tags` makes `deck gateway sync` manage only entities tagged
 * managed-by:mcp-sidecar, so syncing this file never deletes anything else an operator keeps in the same Kong.
 */
import { MANAGED_BY_TAG, serverState, targetState } from './kong-state.js';
import { toolRoutes } from './kong-tool-routes.js';

/** One server of a declarative mesh: its name, route path and the instances behind it. */
export interface DeclaredServer {
  name: string;
  routePath?: string;
  /** What the request-transformer adds as the token: a decK template such as `${{ env "DECK_X" }}`. */
  upstreamToken?: string;
  /** With per-tool routes: the tools to route (learnt from a handshake with the server). */
  tools?: string[];
  instances: { serviceId: string; host: string; port: number }[];
}

export function deckState(servers: DeclaredServer[]): Record<string, unknown> {
  const services: unknown[] = [];
  const upstreams: unknown[] = [];
  for (const server of servers) {
    const { plain, session } = serverState(server.name, undefined, server.routePath, server.upstreamToken);
    const targets = server.instances.map((i) =>
      targetState({ name: server.name, serviceId: i.serviceId, advertiseHost: i.host, advertisePort: i.port }),
    );
    // Per-tool routes are stateless: they join the plain (round-robin) service, as the publisher puts them.
    const tools = toolRoutes(server.name, undefined, server.routePath, server.tools ?? []);
    for (const [path, extra] of [
      [plain, tools],
      [session, []],
    ] as const) {
      services.push({
        ...path.service,
        routes: [path.route, ...extra],
        ...(path.plugin && { plugins: [path.plugin] }),
      });
      // Every instance is a target of both upstreams.
      upstreams.push({ ...path.upstream, targets });
    }
  }
  return { _format_version: '3.0', _info: { select_tags: [MANAGED_BY_TAG] }, services, upstreams };
}
