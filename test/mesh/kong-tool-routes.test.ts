/**
 * Contract tests of per-tool routes (--kong-per-tool-routes) against the Kong 3.9 Admin API double, which checks
 * every request with Kong's OpenAPI document and answers as Kong does (deleting a route deletes its plugins):
 * routes created on READY, a gone tool's routes removed when the tool list changes, the routes of the remaining
 * tools (and the plugins an operator attached to them) left alone, and no removal while another instance of the
 * server still serves another tool list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { kongPublisher } from '../../sidecar/mesh/kong.js';
import { MANAGED_BY_TAG } from '../../sidecar/mesh/kong-state.js';
import { toolRouteName } from '../../sidecar/mesh/kong-tool-routes.js';
import type { Instance } from '../../sidecar/mesh/publisher.js';
import { KongAdminDouble } from '../support/kong-admin-double.js';
import { testKongPublisher } from '../support/kong-publisher.js';
import { testInstance, testProfile } from '../support/mesh-fixtures.js';
import { waitFor } from '../support/sidecar-process.js';

let serial = 0;
const uniqueName = () => `tools${process.pid}x${++serial}`;

describe('per-tool Kong routes against the Kong 3.9 Admin API contract', () => {
  let kong: KongAdminDouble;
  before(async () => {
    kong = await KongAdminDouble.start();
  });
  after(() => kong.stop());

  const publisher = (t: TestContext, inst: Instance) =>
    testKongPublisher(t, kong, inst, { perToolRoutes: true, verifyIntervalMs: 200 });

  async function publishTools(p: ReturnType<typeof kongPublisher>, tools: string[]): Promise<void> {
    p.publish(testProfile(tools));
    p.report({ status: 'passing', latencyMs: 1, toolCount: tools.length });
    await waitFor(() => p.status().state === 'published', 5000, 'state published');
  }

  const routesOf = (name: string) =>
    [...kong.routes.values()]
      .filter((r) => r.name.startsWith(`mcp-${name}.`))
      .map((r) => r.name)
      .sort();

  async function operatorPlugin(route: string, body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${kong.url}/routes/${route}/plugins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  test('READY: two routes per tool on the server service (REST path, MCP path + Mcp-Name header), tagged mcp-tool:<tool>', async (t) => {
    const name = uniqueName();
    const inst = testInstance(name, 18181);
    const { p, requests } = publisher(t, inst);
    await publishTools(p, ['echo', 'add']);

    assert.deepEqual(routesOf(name), [
      `mcp-${name}.mcp.add`,
      `mcp-${name}.mcp.echo`,
      `mcp-${name}.tools.add`,
      `mcp-${name}.tools.echo`,
    ]);
    const service = kong.services.get(`mcp-${name}`)!;
    const rest = kong.routes.get(toolRouteName(name, 'echo', 'tools'))!;
    assert.deepEqual(rest.paths, [`/${name}/tools/echo`]);
    assert.equal(rest.strip_path, false, 'the tool name must reach the sidecar');
    assert.deepEqual(rest.service, { id: service.id }, "on the server's plain service: its plugins apply");
    assert.equal(rest.response_buffering, false);
    const mcp = kong.routes.get(toolRouteName(name, 'echo', 'mcp'))!;
    assert.deepEqual(mcp.paths, [`/${name}/mcp`]);
    assert.deepEqual(mcp.headers, { 'Mcp-Method': ['tools/call'], 'Mcp-Name': ['echo'] });
    for (const route of [rest, mcp]) {
      for (const tag of [MANAGED_BY_TAG, `mcp-server:${name}`, `instance:${inst.serviceId}`, 'mcp-tool:echo'])
        assert.ok(route.tags.includes(tag), `${route.name}: ${tag}`);
    }
    assert.deepEqual(
      requests()
        .filter((r) => r.method === 'PUT' && r.path.includes('/routes/'))
        .map((r) => r.path.split('/routes/')[1]),
      [
        `mcp-${name}`,
        `mcp-${name}-session`,
        ...[`tools.echo`, `mcp.echo`, `tools.add`, `mcp.add`].map((x) => `mcp-${name}.${x}`),
      ],
    );
    // On the plain service, whose upstream is round-robin: a tool call needs no affinity.
    assert.equal(service.host, `mcp-${name}-rr`);
    assert.equal(kong.upstreams.get(service.host)!.algorithm, 'round-robin');
    assert.deepEqual(kong.violations, []);
  });

  test('a tool gone from the list: its routes are deleted; the remaining routes keep their ids and operator plugins, untouched', async (t) => {
    const name = uniqueName();
    const { p, requests, infoOrAbove } = publisher(t, testInstance(name, 18182));
    await publishTools(p, ['echo', 'add', 'search']);
    const echoRoute = kong.routes.get(toolRouteName(name, 'echo', 'tools'))!;
    const rateLimit = await operatorPlugin(echoRoute.name, {
      name: 'rate-limiting',
      config: { minute: 5, policy: 'local' },
    });
    const acl = await operatorPlugin(toolRouteName(name, 'search', 'mcp'), { name: 'acl', config: { allow: ['ops'] } });
    const addPlugin = await operatorPlugin(toolRouteName(name, 'add', 'tools'), { name: 'key-auth', config: {} });
    const mark = requests().length;

    // What a tools/list_changed (or a restart with other tools) makes: a new profile without `add`.
    p.publish(testProfile(['echo', 'search']));
    await waitFor(
      () =>
        !kong.routes.has(toolRouteName(name, 'add', 'tools')) && !kong.routes.has(toolRouteName(name, 'add', 'mcp')),
      5000,
      "add's routes deleted",
    );
    assert.deepEqual(routesOf(name), [
      `mcp-${name}.mcp.echo`,
      `mcp-${name}.mcp.search`,
      `mcp-${name}.tools.echo`,
      `mcp-${name}.tools.search`,
    ]);
    const changes = requests()
      .slice(mark)
      .filter((r) => r.method !== 'GET')
      .map((r) => `${r.method} ${r.path.split('/routes/')[1] ?? r.path}`);
    assert.deepEqual(
      changes.filter((c) => !c.includes('/targets/')),
      [`DELETE mcp-${name}.tools.add`, `DELETE mcp-${name}.mcp.add`],
      'only the gone tool routes are written: no PUT, no delete-and-recreate of the others',
    );
    assert.equal(kong.routes.get(echoRoute.name)!.id, echoRoute.id, 'same route, same id');
    assert.ok([...kong.plugins.values()].some((pl) => pl.id === rateLimit && pl.route?.id === echoRoute.id));
    assert.ok([...kong.plugins.values()].some((pl) => pl.id === acl));
    assert.ok(![...kong.plugins.values()].some((pl) => pl.id === addPlugin), "Kong deleted the gone route's plugin");
    // Each removal is logged once its DELETE was answered.
    await waitFor(
      () => infoOrAbove().filter((l) => /removed: its tool is gone/.test(l.msg)).length === 2,
      5000,
      'a log line per removed route',
    );

    // The tool comes back: its routes are created again; echo's plugin is still where the operator put it.
    p.publish(testProfile(['echo', 'search', 'add']));
    await waitFor(() => kong.routes.has(toolRouteName(name, 'add', 'mcp')), 5000, "add's routes back");
    assert.equal(kong.routes.get(echoRoute.name)!.id, echoRoute.id);
    assert.ok([...kong.plugins.values()].some((pl) => pl.id === rateLimit));
    assert.deepEqual(kong.violations, []);
  });

  test('routes of a tool another instance still serves (a rolling upgrade) stay until that instance is gone', async (t) => {
    const name = uniqueName();
    const old = publisher(t, testInstance(name, 18183));
    await publishTools(old.p, ['echo', 'legacy']);
    const upgraded = publisher(t, testInstance(name, 18184));
    await publishTools(upgraded.p, ['echo']);
    await new Promise((r) => setTimeout(r, 600)); // three verify intervals: time to delete, were it allowed
    assert.ok(kong.routes.has(toolRouteName(name, 'legacy', 'tools')), 'kept while the old instance serves it');
    assert.ok(upgraded.infoOrAbove().some((l) => /another instance serves another tool list/.test(l.msg)));

    await old.p.withdraw(2000);
    await waitFor(
      () =>
        !kong.routes.has(toolRouteName(name, 'legacy', 'tools')) &&
        !kong.routes.has(toolRouteName(name, 'legacy', 'mcp')),
      5000,
      'legacy routes deleted once the old instance left',
    );
    assert.ok(kong.routes.has(toolRouteName(name, 'echo', 'tools')));
    assert.deepEqual(kong.violations, []);
  });

  test('tool names Kong cannot take as names get a valid, distinct route name; the tag and header keep the real name', () => {
    const a = toolRouteName('srv', 'a b', 'tools');
    const b = toolRouteName('srv', 'a/b', 'tools');
    assert.match(a, /^mcp-srv\.tools\.a_b-[0-9a-f]{8}$/);
    assert.notEqual(a, b);
    assert.equal(toolRouteName('srv', 'get-sum.v2_x', 'mcp'), 'mcp-srv.mcp.get-sum.v2_x');
  });
});
