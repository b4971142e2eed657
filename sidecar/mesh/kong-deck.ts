/**
 * The Kong state of a declarative mesh as a decK state file (`_format_version: "3.0"`): the same entities the
 * publisher writes (kong-state.ts, kong-tool-routes.ts), with routes nested in their service and targets in their
 * upstream, as decK expects them. `select_tags` makes `deck gateway sync` manage only entities tagged
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
    const { upstream, service, route, plugin } = serverState(
      server.name,
      undefined,
      server.routePath,
      server.upstreamToken,
    );
    const routes = [route, ...toolRoutes(server.name, undefined, server.routePath, server.tools ?? [])];
    services.push({ ...service, routes, ...(plugin && { plugins: [plugin] }) });
    upstreams.push({
      ...upstream,
      targets: server.instances.map((i) =>
        targetState({ name: server.name, serviceId: i.serviceId, advertiseHost: i.host, advertisePort: i.port }),
      ),
    });
  }
  return { _format_version: '3.0', _info: { select_tags: [MANAGED_BY_TAG] }, services, upstreams };
}
