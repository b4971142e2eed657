/**
 * What the document says beyond the tools, from the configuration: where callers reach the facade and how they
 * authenticate. One function, so `GET /openapi.json` and `mcp-sidecar openapi` describe the same API.
 */
import type { Config } from '../config.js';
import type { Instance } from '../mesh/publisher.js';
import { routePathFor } from '../mesh/kong-state.js';
import type { ToolPolicy } from '../mcp/tool-policy.js';
import type { DocumentOptions, OpenApiServer } from './document.js';

/** Kong's proxy address is not known to the sidecar (it talks to the Admin API only): a variable, default local. */
export const KONG_PROXY_DEFAULT = 'http://localhost:8000';

export function documentOptions(
  config: Pick<Config, 'auth' | 'kong' | 'name'>,
  instance: Pick<Instance, 'advertiseHost' | 'advertisePort'>,
  policy: ToolPolicy,
): DocumentOptions {
  const host = instance.advertiseHost.includes(':') ? `[${instance.advertiseHost}]` : instance.advertiseHost;
  const servers: OpenApiServer[] = [
    { url: `http://${host}:${instance.advertisePort}`, description: 'this sidecar (--advertise)' },
  ];
  if (config.kong) {
    servers.push({
      url: `{kong}${routePathFor(config.name, config.kong.routePath)}`,
      description: "through Kong: the route the sidecar publishes (--kong-route-path); `kong` is Kong's proxy URL",
      variables: { kong: { default: KONG_PROXY_DEFAULT, description: "Kong's proxy URL" } },
    });
  }
  const auth = config.auth;
  const everyToken = auth.mode === 'jwt' ? auth.scopes : [];
  return {
    servers,
    auth: auth.mode,
    scopesFor: (tool) => [...new Set([...everyToken, ...policy.scopesFor(tool)])],
  };
}
