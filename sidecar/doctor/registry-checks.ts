/**
 * The doctor's registry checks, done for real with the clients the publishers use. Consul: the agent answers, and
 * the token may register a probe instance of the service (a TTL check), pass that check and deregister it. Kong:
 * the Admin API answers (its version), and a probe upstream tagged like the sidecar's entities can be created and
 * removed. Probes carry a random id no real instance can have, and are removed even when a step fails.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { ConsulApi } from '../mesh/consul-api.js';
import { ConsulInstances } from '../mesh/consul-instances.js';
import { kongAdminClient } from '../mesh/kong-admin.js';
import { kongTags } from '../mesh/kong-state.js';
import { RegistryClient, RegistryError } from '../mesh/registry-client.js';
import { CheckFailure } from './report.js';

const TIMEOUT_MS = 5000;
/** How long a registration may take to reach the catalog (an agent syncs at once; a loaded one takes a moment). */
const CATALOG_SYNC_MS = 3000;

/** An id no sidecar uses: real ids are <name>-<host>-<port> or --service-id. */
export function probeId(name: string): string {
  return `${name}-mcp-sidecar-doctor-${randomBytes(4).toString('hex')}`;
}

function unreachable(what: string, url: string, err: unknown, fix: string): CheckFailure {
  return new CheckFailure(`${what} at ${url} does not answer: ${(err as Error).message}`, fix);
}

export async function checkConsulReachable(config: Config): Promise<string> {
  const consul = config.consul!;
  const client = new RegistryClient({ url: new URL(consul.url), timeoutMs: TIMEOUT_MS, ca: consul.ca, hint: () => '' });
  try {
    // Status needs no ACL rights: it tells "reachable" apart from "the token may not".
    const leader = await client.request('GET', '/v1/status/leader');
    return `${consul.url} answers (cluster leader ${JSON.stringify(leader)})`;
  } catch (err) {
    throw unreachable(
      'the Consul agent',
      consul.url,
      err,
      'start the local Consul agent (e.g. consul agent -dev), or point --consul at it (https:// needs --consul-ca-file for a private CA)',
    );
  } finally {
    client.close();
  }
}

export async function checkConsulToken(config: Config): Promise<string> {
  const consul = config.consul!;
  const api = new ConsulApi({ ...consul, url: new URL(consul.url), service: config.name, timeoutMs: TIMEOUT_MS });
  const id = probeId(config.name);
  const checkId = `${id}:ttl`;
  let step = 'register';
  try {
    await api.register({
      ID: id,
      Name: config.name,
      // With a port, as the sidecar registers: the replicas' lookup ignores instances that have none.
      Port: config.port || 1,
      Tags: ['mcp-sidecar-doctor'],
      Meta: { 'mcp-sidecar-doctor': 'probe' },
      Checks: [
        { CheckID: checkId, Name: 'mcp-sidecar doctor probe', TTL: '30s', DeregisterCriticalServiceAfter: '1m' },
      ],
    });
    step = 'pass the TTL check of';
    await api.updateTtl(checkId, 'passing', 'mcp-sidecar doctor probe');
    step = 'find among the passing instances';
    await findPassing(config, id);
    step = 'deregister';
    await api.deregister(id);
    step = '';
    return `the token registered probe ${id} of service "${config.name}", passed its TTL check, found it among the passing instances and deregistered it`;
  } catch (err) {
    if (err instanceof CheckFailure) throw err;
    const status = err instanceof RegistryError ? err.statusCode : undefined;
    throw new CheckFailure(
      `could not ${step} probe ${id}: ${(err as Error).message}`,
      status === 403
        ? `give the token (--consul-token-file or CONSUL_HTTP_TOKEN) the rule service "${config.name}" { policy = "write" } (consul/sidecar-policy.hcl)`
        : 'check the agent log; the sidecar makes these same calls',
    );
  } finally {
    // Even after a failed step: the probe must not stay registered (DeregisterCriticalServiceAfter is the backstop).
    if (step !== '') await api.deregister(id).catch(() => {});
    api.close();
  }
}

/**
 * The lookup replicas make to forward an MCP 2026-07-28 retry to the one holding its call. Consul answers it with
 * 200 and no instances when the token may not read the nodes, so "registered but invisible" is its own failure.
 */
async function findPassing(config: Config, id: string): Promise<void> {
  const consul = config.consul!;
  const instances = new ConsulInstances({ ...consul, service: config.name, timeoutMs: TIMEOUT_MS });
  try {
    // The health endpoint reads the catalog, which the agent updates a moment after the register and the TTL pass.
    for (const deadline = Date.now() + CATALOG_SYNC_MS; Date.now() < deadline;) {
      if (await instances.passing(id)) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new CheckFailure(
      `probe ${id} is registered and passing, but GET /v1/health/service/${config.name}?passing did not list it within ${CATALOG_SYNC_MS / 1000} s`,
      'give the token the rule node_prefix "" { policy = "read" } (consul/sidecar-policy.hcl): without it replicas cannot find each other and every MCP 2026-07-28 retry that reaches another replica fails',
    );
  } finally {
    instances.close();
  }
}

export async function checkKongReachable(config: Config): Promise<string> {
  const kong = config.kong!;
  const client = kongAdminClient({ ...kong, requestTimeoutMs: TIMEOUT_MS });
  try {
    const info = (await client.request('GET', '/')) as { version?: unknown; configuration?: { database?: unknown } };
    if (typeof info?.version !== 'string')
      throw new CheckFailure(
        `${kong.adminUrl} answers, but not as Kong's Admin API (no version in GET /)`,
        'point --kong-admin at the Admin API (port 8001), not the proxy (port 8000)',
      );
    if (info.configuration?.database === 'off')
      throw new CheckFailure(
        `Kong ${info.version} at ${kong.adminUrl} runs DB-less: its Admin API cannot be written`,
        'use `mcp-sidecar kong-config` to write a decK file for it instead of --kong-admin, or run Kong with a database',
      );
    const db = typeof info.configuration?.database === 'string' ? `, database ${info.configuration.database}` : '';
    return `${kong.adminUrl} answers: Kong ${info.version}${db}`;
  } catch (err) {
    if (err instanceof CheckFailure) throw err;
    if (err instanceof RegistryError && err.statusCode !== undefined)
      throw new CheckFailure(`${kong.adminUrl}: ${err.message}`, 'check --kong-admin and --kong-admin-token-file');
    throw unreachable(
      "Kong's Admin API",
      kong.adminUrl,
      err,
      'start Kong, or point --kong-admin at its Admin API (e.g. http://127.0.0.1:8001)',
    );
  } finally {
    client.close();
  }
}

export async function checkKongWrite(config: Config): Promise<string> {
  const kong = config.kong!;
  const client = kongAdminClient({ ...kong, requestTimeoutMs: TIMEOUT_MS });
  const name = probeId(config.name);
  let created = false;
  try {
    await client.request('PUT', `/upstreams/${encodeURIComponent(name)}`, { name, tags: kongTags(config.name, name) });
    created = true;
    await client.request('DELETE', `/upstreams/${encodeURIComponent(name)}`);
    created = false;
    return `created and removed probe upstream ${name}, tagged like the sidecar's entities`;
  } catch (err) {
    const status = err instanceof RegistryError ? err.statusCode : undefined;
    throw new CheckFailure(
      `could not ${created ? 'remove' : 'create'} probe upstream ${name}: ${(err as Error).message}`,
      status === 401 || status === 403
        ? 'give the Admin API credentials that may write upstreams, services, routes, targets and plugins (--kong-admin-token-file)'
        : status === 405
          ? 'this Kong cannot be written (DB-less?): use `mcp-sidecar kong-config` to write a decK file instead'
          : 'check the Kong log for why it refused the entity; the sidecar writes entities like this one',
    );
  } finally {
    if (created) await client.request('DELETE', `/upstreams/${encodeURIComponent(name)}`).catch(() => {});
    client.close();
  }
}
