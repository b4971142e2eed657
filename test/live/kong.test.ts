/**
 * Live: the whole path through a real Kong Gateway 3.9 (DB mode on postgres:16) and a real Consul, started with
 * testcontainers. A sidecar on this host (bound to 127.0.0.1, reached by the containers through testcontainers'
 * host-port tunnel as host.testcontainers.internal) publishes itself; a client calls a tool through Kong's proxy;
 * the MCP server is killed, Kong stops routing to the instance, and routes to it again once it is back.
 *
 * Needs a Docker engine. Where none is reachable the suite is skipped with one line saying so; where one is, it
 * runs as it is (first run pulls kong:3.9, postgres:16, hashicorp/consul:1.20 and testcontainers' helpers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  TestContainers,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { freePort } from '../support/consul-agent.js';
import { textOf } from '../support/harness.js';
import {
  everythingCommand,
  McpHttpClient,
  readyz,
  startSidecar,
  waitFor,
  waitForReady,
  type RunningSidecar,
} from '../support/sidecar-process.js';

const KONG_IMAGE = 'kong:3.9';
const POSTGRES_IMAGE = 'postgres:16';
const CONSUL_IMAGE = 'hashicorp/consul:1.20';
const NAME = 'everything';

/** Why the suite cannot run here, or undefined when a container runtime answers. */
async function dockerUnavailable(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (err) {
    return `no Docker engine reachable (${(err as Error).message}); the live Kong tests need one (DOCKER_HOST or /var/run/docker.sock)`;
  }
}

const skipReason = await dockerUnavailable();

/** POST /tools/echo through Kong: status, whether Kong proxied it to an instance, and the body. */
async function echoThroughKong(
  proxy: string,
  message: string,
): Promise<{ status: number; proxied: boolean; body: any }> {
  const res = await fetch(`${proxy}/${NAME}/tools/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Kong's own error pages are JSON too; anything else is shown as text
  }
  // Kong adds X-Kong-Upstream-Latency only to responses that came from an upstream target.
  return { status: res.status, proxied: res.headers.has('x-kong-upstream-latency'), body };
}

describe(
  `Kong live (testcontainers: ${KONG_IMAGE}, ${POSTGRES_IMAGE}, ${CONSUL_IMAGE})`,
  { skip: skipReason, timeout: 15 * 60_000 },
  () => {
    let network: StartedNetwork;
    const containers: StartedTestContainer[] = [];
    let kongAdmin: string;
    let kongProxy: string;
    let consulUrl: string;
    let sidecar: RunningSidecar;

    before(async () => {
      // The sidecar must know its port before it starts, to advertise it.
      const port = await freePort();
      // Containers started after this reach 127.0.0.1:<port> on this host as host.testcontainers.internal:<port>.
      await TestContainers.exposeHostPorts(port);
      network = await new Network().start();

      const db = {
        KONG_DATABASE: 'postgres',
        KONG_PG_HOST: 'kong-db',
        KONG_PG_USER: 'kong',
        KONG_PG_PASSWORD: 'kong',
        KONG_PG_DATABASE: 'kong',
      };
      containers.push(
        await new GenericContainer(POSTGRES_IMAGE)
          .withNetwork(network)
          .withNetworkAliases('kong-db')
          .withEnvironment({ POSTGRES_USER: 'kong', POSTGRES_PASSWORD: 'kong', POSTGRES_DB: 'kong' })
          .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
          .start(),
      );
      containers.push(
        await new GenericContainer(KONG_IMAGE)
          .withNetwork(network)
          .withEnvironment(db)
          .withCommand(['kong', 'migrations', 'bootstrap'])
          .withWaitStrategy(Wait.forOneShotStartup())
          .withStartupTimeout(180_000)
          .start(),
      );
      const kong = await new GenericContainer(KONG_IMAGE)
        .withNetwork(network)
        .withEnvironment({
          ...db,
          KONG_PROXY_LISTEN: '0.0.0.0:8000',
          KONG_ADMIN_LISTEN: '0.0.0.0:8001',
          KONG_NGINX_WORKER_PROCESSES: '1',
          // Target changes reach the balancer within a second (the default is 5 s).
          KONG_WORKER_STATE_UPDATE_FREQUENCY: '1',
          KONG_DB_UPDATE_FREQUENCY: '1',
        })
        .withExposedPorts(8000, 8001)
        .withWaitStrategy(Wait.forHttp('/status', 8001).forStatusCode(200))
        .withStartupTimeout(180_000)
        .start();
      containers.push(kong);
      kongAdmin = `http://${kong.getHost()}:${kong.getMappedPort(8001)}`;
      kongProxy = `http://${kong.getHost()}:${kong.getMappedPort(8000)}`;

      const consul = await new GenericContainer(CONSUL_IMAGE)
        .withNetwork(network)
        .withCommand(['agent', '-dev', '-client=0.0.0.0', '-log-level=warn'])
        .withExposedPorts(8500)
        .withWaitStrategy(
          Wait.forHttp('/v1/status/leader', 8500).forResponsePredicate((body) => body.trim().length > 2),
        )
        .start();
      containers.push(consul);
      consulUrl = `http://${consul.getHost()}:${consul.getMappedPort(8500)}`;

      sidecar = await startSidecar([
        '--name',
        NAME,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--advertise',
        `host.testcontainers.internal:${port}`,
        // Kong sends Host: mcp-<name> (the service's host) when it proxies.
        '--allowed-hosts',
        `mcp-${NAME}`,
        '--kong-admin',
        kongAdmin,
        '--consul',
        consulUrl,
        '--ping-interval',
        '1s',
        // Down long enough to see Kong stop routing before the server is back.
        '--restart-min',
        '8s',
        '--restart-max',
        '8s',
        '--shutdown-grace',
        '2s',
        '--',
        ...everythingCommand(),
      ]);
      await waitForReady(sidecar.url, 60_000);
    });

    after(async () => {
      await sidecar?.stop();
      for (const container of containers.reverse()) await container.stop().catch(() => undefined);
      await network?.stop().catch(() => undefined);
    });

    test('a client calls a tool through Kong: REST and MCP Streamable HTTP; Kong and Consul list the instance', async (t) => {
      const started = Date.now();
      const first = await waitFor(
        async () => {
          const r = await echoThroughKong(kongProxy, 'through kong');
          return r.status === 200 && r.proxied && r;
        },
        90_000,
        'a 200 from the sidecar through Kong',
      );
      t.diagnostic(`first call through Kong after ${Date.now() - started} ms`);
      assert.match(JSON.stringify(first.body), /through kong/);

      const client = new McpHttpClient(`${kongProxy}/${NAME}`);
      await client.initialize();
      t.after(() => client.close().catch(() => 0));
      const call = await client.request('tools/call', { name: 'echo', arguments: { message: 'mcp via kong' } });
      assert.match(textOf(call), /mcp via kong/);

      // The session (hashed) upstream and the round-robin one hold the same target.
      for (const upstream of [`mcp-${NAME}`, `mcp-${NAME}-rr`]) {
        const targets = (await (await fetch(`${kongAdmin}/upstreams/${upstream}/targets`)).json()) as {
          data: Array<{ target: string; tags: string[] }>;
        };
        assert.equal(targets.data.length, 1, upstream);
        assert.ok(targets.data[0].tags.includes('managed-by:mcp-sidecar'));
      }
      const passing = (await (await fetch(`${consulUrl}/v1/health/service/${NAME}?passing=true`)).json()) as unknown[];
      assert.equal(passing.length, 1);
    });

    test('kill the MCP server: Kong stops routing to the instance, then routes to it again once it is back', async (t) => {
      const { body } = await readyz(sidecar.url);
      const pid = body.worker?.pid as number | undefined;
      assert.ok(pid, `/readyz names the worker pid: ${JSON.stringify(body.worker)}`);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');

      await waitFor(
        async () => {
          for (const upstream of [`mcp-${NAME}`, `mcp-${NAME}-rr`]) {
            const list = (await (await fetch(`${kongAdmin}/upstreams/${upstream}/targets`)).json()) as {
              data: unknown[];
            };
            if (list.data.length > 0) return false;
          }
          return true;
        },
        15_000,
        'the target withdrawn from both Kong upstreams',
      );
      const refused = await waitFor(
        async () => {
          const r = await echoThroughKong(kongProxy, 'while down');
          return !r.proxied && r;
        },
        15_000,
        'Kong answering itself (no upstream) instead of proxying',
      );
      t.diagnostic(
        `Kong stopped routing ${Date.now() - killedAt} ms after the kill (status ${refused.status}: ${JSON.stringify(refused.body)})`,
      );
      assert.ok(refused.status >= 500, `Kong refuses with a 5xx while no instance is up (got ${refused.status})`);
      const critical = (await (await fetch(`${consulUrl}/v1/health/service/${NAME}?passing=true`)).json()) as unknown[];
      assert.equal(critical.length, 0, 'Consul lists no passing instance while the server is down');

      const back = await waitFor(
        async () => {
          const r = await echoThroughKong(kongProxy, 'back again');
          return r.status === 200 && r.proxied && r;
        },
        90_000,
        'Kong routing to the restarted server',
      );
      t.diagnostic(`routed again ${Date.now() - killedAt} ms after the kill (restart delay 8 s)`);
      assert.match(JSON.stringify(back.body), /back again/);
    });
  },
);
