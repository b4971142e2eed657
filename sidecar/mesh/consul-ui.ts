/**
 * Where the Consul UI shows this service: `<agent>/ui/<datacenter>/services/<name>/instances`. The UI's routes
 * start with the datacenter, which the sidecar's options do not name, so the agent is asked once (GET
 * /v1/agent/self); until it has answered, and if it never does, the link names Consul's default, dc1.
 */
import type { ConsulPublisherOptions } from './consul.js';

export function consulUiLink(consul: Pick<ConsulPublisherOptions, 'url' | 'token'>, service: string): () => string {
  const base = consul.url.replace(/\/+$/, '');
  let datacenter: string | undefined;
  let nextAskAt = 0;
  const ask = () => {
    // A token without agent:read, or an agent that is down, is asked again a minute later, not at every request.
    nextAskAt = Date.now() + 60_000;
    fetch(`${base}/v1/agent/self`, {
      headers: consul.token ? { 'x-consul-token': consul.token } : {},
      signal: AbortSignal.timeout(3000),
    })
      .then((res) => (res.ok ? (res.json() as Promise<{ Config?: { Datacenter?: string } }>) : undefined))
      .then((self) => (datacenter = self?.Config?.Datacenter))
      .catch(() => undefined);
  };
  return () => {
    if (datacenter === undefined && Date.now() >= nextAskAt) ask();
    return `${base}/ui/${encodeURIComponent(datacenter ?? 'dc1')}/services/${encodeURIComponent(service)}/instances`;
  };
}
