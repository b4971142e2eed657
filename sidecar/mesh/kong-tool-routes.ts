/**
 * Per-tool Kong routes (--kong-per-tool-routes), as pure data: besides the server's route `/<name>`, two routes
 * per tool on the same service, so that an operator can attach Kong plugins (rate-limiting, acl, …) to one tool:
 *
 *   route `mcp-<name>.tools.<tool>`  paths [/<name>/tools/<tool>]                  REST callers of the tool
 *   route `mcp-<name>.mcp.<tool>`    paths [/<name>/mcp], headers Mcp-Method: tools/call and Mcp-Name: <tool>
 *                                    MCP 2026-07-28 clients, whose requests carry the method and the tool's name
 *
 * Both are on the server's plain service `mcp-<name>` (round-robin: a tool call needs no affinity), so what an
 * operator put on that service (key-auth, the upstream-auth request-transformer) applies to them too. Kong picks
 * the most specific route: the longer path, or the route that also matches more headers. They keep the path as
 * sent (`strip_path: false`): stripping would strip the whole matched path, tool name included; the sidecar
 * serves `/<name>/tools/…` and `/<name>/mcp` as aliases of `/tools/…` and `/mcp` when run with the same option.
 * Each carries the tag `mcp-tool:<tool>`, by which the publisher finds the routes it owns when a tool is gone.
 */
import { createHash } from 'node:crypto';
import {
  kongEntityName,
  kongTag,
  kongTags,
  mcpPathFor,
  routePathFor,
  serverState,
  type KongRoute,
} from './kong-state.js';

export const TOOL_TAG_KEY = 'mcp-tool';

export type ToolRouteKind = 'tools' | 'mcp';

/**
 * A Kong name for a tool's route. Kong names take letters, digits and `._~-`; MCP tool names usually fit, and one
 * that does not gets its other characters replaced and a short hash of the real name, so two never collide.
 */
export function toolRouteName(name: string, tool: string, kind: ToolRouteKind): string {
  const safe = tool.replace(/[^A-Za-z0-9._~-]/g, '_');
  const suffix = safe === tool ? '' : `-${createHash('sha256').update(tool).digest('hex').slice(0, 8)}`;
  return `${kongEntityName(name)}.${kind}.${safe}${suffix}`;
}

/** The tool a route of ours serves, from its tags; undefined for the server's own route or a route not ours. */
export function toolOfRoute(route: { tags?: string[] | null }): string | undefined {
  const tag = route.tags?.find((t) => t.startsWith(`${TOOL_TAG_KEY}:`));
  return tag?.slice(TOOL_TAG_KEY.length + 1);
}

/** The two routes of every tool (in the order given), with the server route's settings (no buffering: SSE). */
export function toolRoutes(
  name: string,
  instanceId: string | undefined,
  routePath: string | undefined,
  tools: readonly string[],
): KongRoute[] {
  const base = serverState(name, instanceId, routePath).plain.route;
  const prefix = routePathFor(name, routePath).replace(/\/+$/, '');
  const routes: KongRoute[] = [];
  for (const tool of tools) {
    const tags = [...kongTags(name, instanceId), kongTag(TOOL_TAG_KEY, tool)];
    const shared = { ...base, strip_path: false, tags };
    routes.push({
      ...shared,
      name: toolRouteName(name, tool, 'tools'),
      paths: [`${prefix}/tools/${encodeURIComponent(tool)}`],
    });
    routes.push({
      ...shared,
      name: toolRouteName(name, tool, 'mcp'),
      paths: [mcpPathFor(name, routePath)],
      // Mcp-Name also carries prompt names and resource URIs: only a tools/call of this tool is the tool's.
      headers: { 'Mcp-Method': ['tools/call'], 'Mcp-Name': [tool] },
    });
  }
  return routes;
}
