/**
 * Issue 4 end to end without Docker: the real sidecar process (`--kong-admin`) in front of the real
 * server-everything, publishing to the Kong Admin API contract double. Checks the lead's wiring and the publisher
 * together: READY → target added, server killed → target withdrawn at once, restarted → added again,
 * SIGTERM → target removed before the process exits. Every request must satisfy Kong's OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launch } from '../support/harness.js';
import { KongAdminDouble } from '../support/kong-admin-double.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rest } from '../support/harness.js';
import { everythingCommand, fixtureCommand, McpHttpClient, readyz, waitFor } from '../support/sidecar-process.js';

describe('the sidecar publishes to Kong (real sidecar, Admin API contract double)', () => {
  let kong: KongAdminDouble;
  before(async () => {
    kong = await KongAdminDouble.start();
  });
  after(() => kong.stop());

  test('READY adds the target; a killed server withdraws it at once; READY again re-adds it; SIGTERM removes it', async (t) => {
    const name = `kong-it-${process.pid}`;
    const started = Date.now();
    const sidecar = await launch(t, [
      '--name',
      name,
      '--kong-admin',
      kong.url,
      '--ping-interval',
      '500ms',
      '--restart-min',
      '1s',
      '--restart-max',
      '1s',
      '--',
      ...everythingCommand(),
    ]);
    const address = new URL(sidecar.url).host;
    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 10_000, 'the target in Kong');
    t.diagnostic(`published ${Date.now() - started} ms after start`);
    assert.deepEqual(kong.routes.get(`mcp-${name}`)?.paths, [`/${name}`]);
    // The publisher says 'published' once its loop has seen everything converge (a step after the last answer).
    const ready = await waitFor(
      async () => {
        const r = await readyz(sidecar.url);
        return (
          r.body.publishers.some(
            (p: { publisher: string; state: string }) => p.publisher === 'kong' && p.state === 'published',
          ) && r
        );
      },
      5000,
      "publisher state 'published' in /readyz",
    );

    const pid = ready.body.worker.pid as number;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !kong.targetsOf(`mcp-${name}`).has(address), 5000, 'the target withdrawn');
    const withdrawnMs = Date.now() - killedAt;
    t.diagnostic(`target withdrawn ${withdrawnMs} ms after the kill`);
    assert.ok(withdrawnMs < 2000, `withdrawn at once, not after a ping timeout (${withdrawnMs} ms)`);
    assert.ok(kong.upstreams.has(`mcp-${name}`) && kong.routes.has(`mcp-${name}`), 'shared entities stay');

    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 15_000, 'the target re-added after the restart');
    t.diagnostic(`re-added ${Date.now() - killedAt} ms after the kill (restart delay 1 s)`);

    const stopped = await sidecar.stop('SIGTERM');
    assert.equal(stopped.code, 0, sidecar.logs().slice(-2000));
    assert.ok(!kong.targetsOf(`mcp-${name}`).has(address), 'removed on SIGTERM');
    assert.deepEqual(kong.violations, []);
    const logs = sidecar.logs();
    assert.match(logs, /published to Kong/);
    assert.match(logs, /Kong target .* removed/);
  });

  test('Kong down at start: the sidecar serves anyway, reports the publisher unreachable, and publishes once Kong is up', async (t) => {
    const name = `kong-down-${process.pid}`;
    await kong.down();
    t.after(() => kong.up());
    const sidecar = await launch(t, ['--name', name, '--kong-admin', kong.url, '--', ...everythingCommand()]);
    const tools = await fetch(`${sidecar.url}/tools`);
    assert.equal(tools.status, 200, 'serving does not wait for Kong');
    await waitFor(
      async () =>
        (await readyz(sidecar.url)).body.publishers.find((p: { publisher: string }) => p.publisher === 'kong')
          ?.state === 'unreachable',
      10_000,
      'publisher unreachable in /readyz',
    );
    assert.equal(
      (await readyz(sidecar.url)).status,
      200,
      'still ready: a registry being down is not the server being down',
    );
    await kong.up();
    const address = new URL(sidecar.url).host;
    // Backoff is capped at 30 s; the first retries come much sooner.
    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 40_000, 'published after Kong came back');
    assert.deepEqual(kong.violations, []);
  });

  test('--kong-per-tool-routes: routes for the tools on READY; a restart with another tool list moves them; the sidecar serves the paths they forward', async (t) => {
    const name = `kong-tools-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'kong-tools-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const sidecar = await launch(t, [
      '--name',
      name,
      '--kong-admin',
      kong.url,
      '--kong-per-tool-routes',
      '--restart-min',
      '100ms',
      '--',
      ...fixtureCommand('tools-by-start', join(dir, 'counter')),
    ]);
    const toolRoutes = () =>
      [...kong.routes.values()]
        .filter((r) => r.name.startsWith(`mcp-${name}.tools.`))
        .map((r) => r.paths[0])
        .sort();
    await waitFor(() => toolRoutes().length === 3, 10_000, 'the tool routes');
    assert.deepEqual(toolRoutes(), [`/${name}/tools/echo`, `/${name}/tools/generation_1`, `/${name}/tools/slow`]);
    const echoId = kong.routes.get(`mcp-${name}.tools.echo`)!.id;

    // What Kong forwards on these routes (strip_path false) reaches the tools.
    const viaRoute = await rest(`${sidecar.url}/${name}`, 'echo', { text: 'through the tool route' });
    assert.equal(viaRoute.status, 200, JSON.stringify(viaRoute.body));
    assert.equal(viaRoute.body.content[0].text, 'through the tool route');
    const viaMcpRoute = new McpHttpClient(`${sidecar.url}/${name}`);
    await viaMcpRoute.initialize();
    const called = await viaMcpRoute.request('tools/call', { name: 'echo', arguments: { text: 'mcp route' } });
    assert.equal(called.result.content[0].text, 'mcp route', 'POST /<name>/mcp is served as /mcp');
    await viaMcpRoute.close();

    process.kill((await readyz(sidecar.url)).body.worker.pid as number, 'SIGKILL');
    // The two routes of the gone tool are deleted one after the other: wait for both.
    await waitFor(
      () =>
        toolRoutes().includes(`/${name}/tools/generation_2`) &&
        !toolRoutes().includes(`/${name}/tools/generation_1`) &&
        !kong.routes.has(`mcp-${name}.mcp.generation_1`),
      15_000,
      'generation_2 routed, both routes of generation_1 gone',
    );
    assert.equal(kong.routes.get(`mcp-${name}.tools.echo`)!.id, echoId, 'the remaining routes were not recreated');
    assert.deepEqual(kong.violations, []);
  });

  test('--kong-per-tool-routes and tools/list_changed: a tool added at run time gets routes and an operation; removed, they go; the rest and its plugins stay', async (t) => {
    const name = `kong-changes-${process.pid}`;
    const sidecar = await launch(t, [
      ...['--name', name, '--kong-admin', kong.url, '--kong-per-tool-routes'],
      '--',
      ...fixtureCommand('changing-tools'),
    ]);
    const routeOf = (tool: string) => kong.routes.get(`mcp-${name}.tools.${tool}`);
    const operations = async () =>
      Object.keys(((await (await fetch(`${sidecar.url}/openapi.json`)).json()) as { paths: object }).paths);
    await waitFor(() => routeOf('remove'), 10_000, 'the tool routes');
    const echo = routeOf('echo')!;
    const plugin = await fetch(`${kong.url}/routes/${echo.name}/plugins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'rate-limiting', config: { minute: 5, policy: 'local' } }),
    });
    assert.equal(plugin.status, 201);
    const pluginId = ((await plugin.json()) as { id: string }).id;

    assert.equal((await rest(sidecar.url, 'add', { name: 'extra' })).status, 200);
    await waitFor(() => routeOf('extra') && kong.routes.get(`mcp-${name}.mcp.extra`), 10_000, 'routes of the new tool');
    assert.ok((await operations()).includes('/tools/extra'), 'the document follows the tool list');

    assert.equal((await rest(sidecar.url, 'remove', { name: 'extra' })).status, 200);
    await waitFor(
      () => !routeOf('extra') && !kong.routes.get(`mcp-${name}.mcp.extra`),
      10_000,
      'routes of the removed tool deleted',
    );
    assert.ok(!(await operations()).includes('/tools/extra'));
    assert.equal(routeOf('echo')!.id, echo.id, 'echo keeps its route');
    assert.ok(
      [...kong.plugins.values()].some((p) => p.id === pluginId),
      "and the operator's plugin on it",
    );
    assert.deepEqual(kong.violations, []);
  });
});
