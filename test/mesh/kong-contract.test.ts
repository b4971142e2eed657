/**
 * Contract tests of the Kong publisher: every request it makes is validated against Kong 3.9's Admin API
 * OpenAPI document (and Kong's own rules) by the double in test/support/kong-admin-double.ts, which answers
 * as real Kong does (409 on an existing target, 404 on PATCH/PUT/DELETE of a missing one, 201 on create).
 * A test passes only if the publisher converged AND no request broke the contract.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { kongPublisher, type KongPublisherOptions } from '../../sidecar/mesh/kong.js';
import { MANAGED_BY_TAG, serverState, targetState } from '../../sidecar/mesh/kong-state.js';
import type { Instance } from '../../sidecar/mesh/publisher.js';
import type { ServerProfile } from '../../sidecar/mcp/profile.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { KongAdminDouble, kongOpenApiPath } from '../support/kong-admin-double.js';
import { upstreamPath } from '../support/kong-router.js';
import { testKongPublisher } from '../support/kong-publisher.js';
import { testInstance, testProfile } from '../support/mesh-fixtures.js';
import { waitFor } from '../support/sidecar-process.js';

let serial = 0;
const profile = (toolNames: string[]) => testProfile(toolNames);
const instance = testInstance;
const uniqueName = () => `srv${process.pid}x${++serial}`;

describe('KongPublisher against the Kong 3.9 Admin API contract', () => {
  let kong: KongAdminDouble;

  before(async () => {
    kong = await KongAdminDouble.start();
  });
  after(async () => {
    await kong.stop();
  });

  const publisher = (t: TestContext, inst: Instance, opts: Partial<KongPublisherOptions> = {}) =>
    testKongPublisher(t, kong, inst, opts);

  /** Publishes a profile with `tools` and a passing report, and waits for the publisher to converge. */
  async function publishPassing(p: ReturnType<typeof kongPublisher>, tools: string[]): Promise<void> {
    p.publish(profile(tools));
    p.report({ status: 'passing', latencyMs: 3, toolCount: tools.length });
    await waitFor(() => p.status().state === 'published', 5000, 'state published');
  }

  function assertNoViolations(): void {
    assert.deepEqual(kong.violations, [], "every request must satisfy the OpenAPI document and Kong's rules");
  }

  /** The shared entities of both paths are all still there. */
  function assertShared(name: string): void {
    for (const u of [`mcp-${name}`, `mcp-${name}-rr`]) assert.ok(kong.upstreams.has(u), `upstream ${u} stays`);
    for (const s of [`mcp-${name}`, `mcp-${name}-session`]) {
      assert.ok(kong.services.has(s), `service ${s} stays`);
      assert.ok(kong.routes.has(s), `route ${s} stays`);
    }
  }

  test('publish: two upstreams, services and routes upserted with the balancing, health checks, SSE settings and tags; own target added to both', async (t) => {
    const name = uniqueName();
    const inst = instance(name, 18081);
    const { p, requests, infoOrAbove } = publisher(t, inst);
    assert.equal(p.status().state, 'idle');
    await publishPassing(p, ['echo', 'add']);

    assert.deepEqual(
      requests().map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        `PUT /upstreams/mcp-${name} 200`,
        `PUT /upstreams/mcp-${name}-rr 200`,
        `PUT /services/mcp-${name} 200`,
        `PUT /services/mcp-${name}/routes/mcp-${name} 200`,
        `PUT /services/mcp-${name}-session 200`,
        `PUT /services/mcp-${name}-session/routes/mcp-${name}-session 200`,
        `POST /upstreams/mcp-${name}/targets 201`,
        `POST /upstreams/mcp-${name}-rr/targets 201`,
      ],
    );
    const upstream = kong.upstreams.get(`mcp-${name}`)!;
    const roundRobin = kong.upstreams.get(`mcp-${name}-rr`)!;
    assert.equal(roundRobin.algorithm, 'round-robin', 'requests without a session go to the next replica');
    assert.equal(roundRobin.hash_on, 'none');
    assert.deepEqual(roundRobin.healthchecks, upstream.healthchecks, 'the same targets, the same health checks');
    assert.equal(upstream.algorithm, 'consistent-hashing');
    assert.equal(upstream.hash_on, 'header');
    assert.equal(upstream.hash_on_header, 'Mcp-Session-Id');
    assert.equal(
      upstream.hash_fallback,
      'ip',
      'only a safety net: header-less requests take the plain route, see the test below',
    );
    assert.equal(upstream.healthchecks.active.http_path, '/readyz');
    assert.ok(upstream.healthchecks.active.healthy.interval > 0, 'active checks are on (interval > 0)');
    assert.ok(upstream.healthchecks.active.unhealthy.interval > 0);
    assert.ok(
      upstream.healthchecks.passive.unhealthy.http_failures > 0 ||
        upstream.healthchecks.passive.unhealthy.tcp_failures > 0,
      'passive checks trip',
    );

    const service = kong.services.get(`mcp-${name}`)!;
    assert.equal(service.host, `mcp-${name}-rr`, 'the plain service points at the round-robin upstream');
    const sessionService = kong.services.get(`mcp-${name}-session`)!;
    assert.equal(sessionService.host, `mcp-${name}`, 'the session service points at the hashed upstream');
    for (const s of [service, sessionService])
      assert.ok(s.read_timeout >= 300_000 && s.write_timeout >= 300_000, 'long timeouts for SSE');

    const route = kong.routes.get(`mcp-${name}`)!;
    const sessionRoute = kong.routes.get(`mcp-${name}-session`)!;
    assert.deepEqual(route.paths, [`/${name}`]);
    assert.deepEqual(sessionRoute.paths, [`/${name}/mcp`], 'sessions live on the MCP endpoint only');
    assert.equal(service.path, undefined, 'the plain route forwards what follows /<name>');
    assert.equal(sessionService.path, '/mcp', 'what the session route strips, its service puts back');
    for (const r of [route, sessionRoute]) {
      assert.equal(r.strip_path, true);
      assert.equal(r.path_handling, 'v0');
      assert.equal(r.request_buffering, false);
      assert.equal(r.response_buffering, false);
    }
    assert.deepEqual(route.service, { id: service.id });
    assert.deepEqual(sessionRoute.service, { id: sessionService.id });
    assert.equal(route.headers, undefined, 'the plain route takes everything the session route does not');
    assert.deepEqual(sessionRoute.headers, { 'Mcp-Session-Id': ['~*.'] });

    const targets = kong.targetsOf(`mcp-${name}`);
    assert.deepEqual([...targets.keys()], ['127.0.0.1:18081']);
    assert.deepEqual([...kong.targetsOf(`mcp-${name}-rr`).keys()], ['127.0.0.1:18081']);
    for (const entity of [
      upstream,
      roundRobin,
      service,
      sessionService,
      route,
      sessionRoute,
      targets.get('127.0.0.1:18081')!,
      kong.targetsOf(`mcp-${name}-rr`).get('127.0.0.1:18081')!,
    ]) {
      assert.ok(entity.tags.includes(MANAGED_BY_TAG), `tags of ${entity.name ?? entity.target}`);
      assert.ok(entity.tags.includes(`mcp-server:${name}`));
      assert.ok(entity.tags.includes(`instance:${inst.serviceId}`));
    }
    const published = infoOrAbove().filter((l) => /published to Kong/.test(l.msg));
    assert.equal(published.length, 1, 'one log line for the state change');
    assertNoViolations();
  });

  test('update: a changed tool list updates only the target tags (PATCH), shared entities are not rewritten', async (t) => {
    const name = uniqueName();
    const { p, requests } = publisher(t, instance(name, 18082));
    p.publish(profile(['echo']));
    await waitFor(
      () => p.status().state === 'published' && kong.targetsOf(`mcp-${name}`).size === 1,
      5000,
      'first publish',
    );
    const before = requests().length;

    p.publish(profile(['echo', 'add', 'slow']));
    for (const upstream of [`mcp-${name}`, `mcp-${name}-rr`]) {
      const tags = await waitFor(
        () => {
          const tags: string[] = kong.targetsOf(upstream).get('127.0.0.1:18082')?.tags ?? [];
          return tags.includes(`mcp-tools:${profile(['echo', 'add', 'slow']).toolsHash}`) && tags;
        },
        5000,
        `target tags with the new tools hash in ${upstream}`,
      );
      assert.ok(!tags.includes(`mcp-tools:${profile(['echo']).toolsHash}`), 'the old tools tag is gone');
    }
    assert.deepEqual(
      requests()
        .slice(before)
        .map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        `PATCH /upstreams/mcp-${name}/targets/127.0.0.1:18082 200`,
        `PATCH /upstreams/mcp-${name}-rr/targets/127.0.0.1:18082 200`,
      ],
    );
    assertNoViolations();
  });

  test('withdraw on critical from both upstreams, re-add on passing and on re-publish; other instances and shared entities untouched', async (t) => {
    const name = uniqueName();
    const a = publisher(t, instance(name, 18083));
    const b = publisher(t, instance(name, 18084));
    a.p.publish(profile(['echo']));
    b.p.publish(profile(['echo']));
    const both = (address: string) =>
      kong.targetsOf(`mcp-${name}`).has(address) && kong.targetsOf(`mcp-${name}-rr`).has(address);
    const neither = (address: string) =>
      !kong.targetsOf(`mcp-${name}`).has(address) && !kong.targetsOf(`mcp-${name}-rr`).has(address);
    await waitFor(() => both('127.0.0.1:18083') && both('127.0.0.1:18084'), 5000, 'both targets in both upstreams');

    a.p.report({ status: 'critical', reason: 'MCP server exited (code 1)' });
    await waitFor(() => neither('127.0.0.1:18083'), 5000, 'target of a removed from both upstreams');
    assert.ok(both('127.0.0.1:18084'), "b's target stays in both");
    assertShared(name);
    // Kong's side changes when the double handles the second DELETE; the publisher logs and settles once it reads
    // the answer, a moment later on a loaded machine.
    const drained = () => a.infoOrAbove().filter((l) => /removed: MCP server exited/.test(l.msg));
    await waitFor(() => drained().length > 0 && a.p.status().state === 'published', 5000, 'the removal settled');
    assert.equal(a.p.status().state, 'published', 'Kong matches what is wanted (no target while critical)');
    assert.equal(drained().length, 1);

    // More critical reports while down: no more requests.
    const count = a.requests().length;
    a.p.report({ status: 'critical', reason: 'still down' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(a.requests().length, count);

    a.p.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await waitFor(() => both('127.0.0.1:18083'), 5000, 'target of a re-added on passing');

    a.p.report({ status: 'critical', reason: 'hung: 2 pings missed' });
    await waitFor(() => neither('127.0.0.1:18083'), 5000, 'removed again');
    // Restarted and handshaken again: publish() alone re-adds it (READY supersedes the critical).
    a.p.publish(profile(['echo']));
    await waitFor(() => both('127.0.0.1:18083'), 5000, 're-added on re-publish');
    assert.deepEqual(
      a
        .requests()
        .filter(
          (r) =>
            r.path.endsWith('/targets/127.0.0.1:18083') ||
            (r.body as { target?: string } | undefined)?.target === '127.0.0.1:18083',
        )
        .map((r) => `${r.method} ${r.path.includes('-rr/') ? 'rr' : 'hashed'} ${r.status}`),
      ['POST 201', 'DELETE 204', 'POST 201', 'DELETE 204', 'POST 201'].flatMap((step) => [
        step.replace(' ', ' hashed '),
        step.replace(' ', ' rr '),
      ]),
    );
    assertNoViolations();
  });

  test("Kong's real answers: 409 on POST of an existing (stale) target, 404 on PATCH of a vanished one", async (t) => {
    const name = uniqueName();
    const inst = instance(name, 18085);
    // A target left by an earlier run of this instance (SIGKILLed, never withdrew), with old tags.
    const earlier = serverState(name, inst.serviceId).session;
    const put = (path: string, body: unknown) =>
      fetch(`${kong.url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await put(`/upstreams/mcp-${name}`, earlier.upstream)).status, 200);
    const seeded = await fetch(`${kong.url}/upstreams/mcp-${name}/targets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(targetState(inst, profile(['old']))),
    });
    assert.equal(seeded.status, 201);

    const { p, requests } = publisher(t, inst);
    p.publish(profile(['echo']));
    await waitFor(() => p.status().state === 'published', 5000, 'published');
    const targetCalls = requests().filter((r) => r.path.includes('/targets'));
    const fresh = targetCalls.slice(targetCalls.findIndex((r) => r.method === 'POST' && r.status === 409));
    assert.deepEqual(
      fresh.map((r) => `${r.method} ${r.path.replace(/\/targets.*/, '')} ${r.status}`),
      [`POST /upstreams/mcp-${name} 409`, `PATCH /upstreams/mcp-${name} 200`, `POST /upstreams/mcp-${name}-rr 201`],
      'the stale one is brought to our tags, the round-robin upstream (new) gets it anew',
    );
    assert.ok(
      kong
        .targetsOf(`mcp-${name}`)
        .get('127.0.0.1:18085')!
        .tags.includes(`mcp-tools:${profile(['echo']).toolsHash}`),
      'stale tags replaced',
    );

    // Someone deletes the target from one upstream behind our back, then the tools change: PATCH 404 → POST to
    // both (409 from the one that still has it: PATCH).
    kong.targetsOf(`mcp-${name}`).clear();
    p.publish(profile(['echo', 'add']));
    await waitFor(
      () =>
        kong.targetsOf(`mcp-${name}`).has('127.0.0.1:18085') &&
        kong
          .targetsOf(`mcp-${name}-rr`)
          .get('127.0.0.1:18085')
          ?.tags.includes(`mcp-tools:${profile(['echo', 'add']).toolsHash}`),
      5000,
      'target back in both',
    );
    const last = requests()
      .filter((r) => r.path.includes('/targets'))
      .slice(-4);
    assert.deepEqual(
      last.map((r) => `${r.method} ${r.path.includes('-rr/') ? 'rr' : 'hashed'} ${r.status}`),
      ['PATCH hashed 404', 'POST hashed 201', 'POST rr 409', 'PATCH rr 200'],
    );
    assertNoViolations();
  });

  test("shutdown: withdraw removes only this instance's target, from both upstreams, and resolves; nothing shared is deleted", async (t) => {
    const name = uniqueName();
    const a = publisher(t, instance(name, 18086));
    const b = publisher(t, instance(name, 18087));
    a.p.publish(profile(['echo']));
    b.p.publish(profile(['echo']));
    const upstreams = [`mcp-${name}`, `mcp-${name}-rr`];
    await waitFor(() => upstreams.every((u) => kong.targetsOf(u).size === 2), 5000, 'both targets in both upstreams');

    const started = Date.now();
    await a.p.withdraw(3000);
    t.diagnostic(`withdraw took ${Date.now() - started} ms`);
    assert.equal(a.p.status().state, 'withdrawn');
    for (const u of upstreams) assert.deepEqual([...kong.targetsOf(u).keys()], ['127.0.0.1:18087'], u);
    assertShared(name);
    assert.ok(
      !kong.requests.some((r) => r.method === 'DELETE' && !r.path.includes('/targets/')),
      'no DELETE of anything but a target',
    );

    // After withdrawal nothing brings it back.
    a.p.publish(profile(['echo']));
    a.p.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await new Promise((r) => setTimeout(r, 150));
    for (const u of upstreams) assert.ok(!kong.targetsOf(u).has('127.0.0.1:18086'), u);

    // The last instance leaving leaves upstreams without targets (Kong answers 503): still no deletes.
    await b.p.withdraw(3000);
    for (const u of upstreams) assert.equal(kong.targetsOf(u).size, 0, u);
    assertShared(name);
    assertNoViolations();
  });

  test('shutdown in the middle of an add: a target already in one upstream when the withdrawal aborted the other is removed too', async (t) => {
    const name = uniqueName();
    const a = publisher(t, instance(name, 18088));
    await publishPassing(a.p, ['echo']);
    // The server died (its target is withdrawn, the publisher knows it absent) and came back: the re-add goes
    // upstream by upstream (hashed, then round-robin); hold the second POST until the withdrawal aborts it.
    a.p.report({ status: 'critical', reason: 'MCP server down' });
    await waitFor(() => !kong.targetsOf(`mcp-${name}-rr`).has('127.0.0.1:18088'), 5000, 'withdrawn on critical');
    const hold = kong.hold((method, path) => method === 'POST' && path === `/upstreams/mcp-${name}-rr/targets`);
    a.p.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await hold.held;
    assert.ok(kong.targetsOf(`mcp-${name}`).has('127.0.0.1:18088'), 'in the first upstream before the withdrawal');
    const withdrawn = a.p.withdraw(3000);
    hold.release();
    await withdrawn;
    assert.equal(a.p.status().state, 'withdrawn');
    for (const u of [`mcp-${name}`, `mcp-${name}-rr`]) assert.ok(!kong.targetsOf(u).has('127.0.0.1:18088'), u);
    assertNoViolations();
  });

  test('an incomplete profile (no finished handshake) is not published: no request reaches Kong', async (t) => {
    const name = uniqueName();
    const { p, requests, lines } = publisher(t, instance(name, 18092));
    const partial = { tools: [], toolsHash: 'abc' } as unknown as ServerProfile;
    p.publish(partial);
    p.report({ status: 'passing', latencyMs: 1, toolCount: 0 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(requests().length, 0);
    assert.equal(p.status().state, 'idle');
    assert.ok(lines.some((l) => l.level === 50 && /incomplete server profile/.test(l.msg)));
  });

  test('withdraw before anything was published sends nothing and resolves at once', async (t) => {
    const name = uniqueName();
    const { p, requests } = publisher(t, instance(name, 18088));
    await p.withdraw(1000);
    assert.equal(p.status().state, 'withdrawn');
    assert.equal(requests().length, 0);
  });

  test('Kong down then up: unreachable with one log line, capped backoff, converges when Kong returns; withdraw meets its deadline while down', async (t) => {
    const name = uniqueName();
    await kong.down();
    t.after(() => kong.up());
    const { p, infoOrAbove, lines } = publisher(t, instance(name, 18089), { backoffMaxMs: 200 });
    p.publish(profile(['echo']));
    await waitFor(() => p.status().state === 'unreachable', 5000, 'state unreachable');
    assert.match(p.status().lastError ?? '', /ECONNREFUSED|connect/i);
    // Let it retry a few times (backoff capped at 200 ms).
    await waitFor(() => lines.filter((l) => l.msg === 'Kong still unreachable').length >= 3, 5000, 'three retries');
    assert.equal(
      infoOrAbove().filter((l) => /Kong unreachable/.test(l.msg)).length,
      1,
      'one warning for the outage, not one per retry',
    );

    await kong.up();
    await waitFor(
      () => p.status().state === 'published' && kong.targetsOf(`mcp-${name}`).has('127.0.0.1:18089'),
      5000,
      'converged after Kong returned',
    );
    assert.equal(infoOrAbove().filter((l) => /Kong reachable again/.test(l.msg)).length, 1);
    assert.equal(p.status().lastError, undefined);

    // Kong goes away again; the shutdown must not wait for it beyond its deadline.
    await kong.down();
    const started = Date.now();
    await p.withdraw(500);
    const took = Date.now() - started;
    t.diagnostic(`withdraw with Kong down took ${took} ms (deadline 500 ms)`);
    assert.ok(took < 2500, `withdraw resolved by its deadline (took ${took} ms)`);
    await kong.up();
    assertNoViolations();
  });

  test("Kong's database reset: the periodic check finds a route or a target gone and creates everything again", async (t) => {
    const name = uniqueName();
    const { p } = publisher(t, instance(name, 18090), { verifyIntervalMs: 100 });
    p.publish(profile(['echo']));
    const upstreams = [`mcp-${name}`, `mcp-${name}-rr`];
    const complete = () =>
      kong.routes.has(`mcp-${name}`) &&
      kong.routes.has(`mcp-${name}-session`) &&
      upstreams.every((u) => kong.targetsOf(u).size === 1);
    await waitFor(complete, 5000, 'published');
    kong.routes.delete(`mcp-${name}`);
    kong.targetsOf(`mcp-${name}`).clear();
    await waitFor(complete, 5000, 'plain route and target back');
    kong.routes.delete(`mcp-${name}-session`);
    await waitFor(complete, 5000, 'session route back');
    kong.targetsOf(`mcp-${name}-rr`).clear();
    await waitFor(complete, 5000, 'target back in the round-robin upstream');
    assertNoViolations();
  });

  test('both eras through two routes: Mcp-Session-Id on the MCP endpoint reaches the hashed upstream as /mcp; all else (2026-07-28, initialize, REST with or without the header, per-tool) the round-robin one', async (t) => {
    const name = uniqueName();
    const { p } = publisher(t, instance(name, 18093), { perToolRoutes: true });
    p.publish(profile(['echo']));
    await waitFor(() => kong.targetsOf(`mcp-${name}-rr`).size === 1, 5000, 'published');

    // Kong's route `headers` (the Admin API document, Route): "When headers contains only one value and that value
    // starts with the special prefix `~*`, the value is interpreted as a regular expression". `.` needs a value.
    const doc = parse(readFileSync(kongOpenApiPath(), 'utf8'));
    const described = doc.components.schemas.Route.properties.headers.description;
    assert.match(described, /only one value and that value starts with the special prefix `~\*`.*regular expression/);
    const sessionRoute = kong.routes.get(`mcp-${name}-session`)!;
    assert.deepEqual(sessionRoute.headers, { 'Mcp-Session-Id': ['~*.'] });
    assert.deepEqual(sessionRoute.paths, [`/${name}/mcp`], 'the MCP endpoint, not all of /<name>');
    // The document's Service `path`, "the path to be used in requests to the upstream server", and Route
    // `path_handling`, which "controls how the service path, route path and requested path are combined".
    const serviceRequest = doc.components.requestBodies['service-request'].content['application/json'].schema;
    assert.match(serviceRequest.properties.path.description, /path to be used in requests to the upstream/);
    assert.match(doc.components.schemas.Route.properties.path_handling.description, /service path, route path/);

    // Kong's priority rule: the router orders routes by how many matching attributes they have (methods, hosts,
    // headers, snis, paths) before anything else, then by how many headers, then by path length (Kong 3.x,
    // kong/router/transform.lua get_priority: the attribute count sits in the top bits of the route's priority,
    // the header count below it, the path length in the lowest; the proxy reference's "Matching priorities" states
    // the same order). On the MCP endpoint the session route (paths + headers) beats the plain one (paths) for a
    // request with the header; elsewhere it does not match at all. kong.proxy models that rule and Kong's v0 path
    // handling (kong/router/utils.lua get_upstream_uri): the stripped `/<name>/mcp` becomes the service's `/mcp`.
    const session = { 'Mcp-Session-Id': 'abc123' };
    // No route names methods: a legacy session's POSTs, its GET stream and its DELETE all go this way.
    for (const [path, headers, upstreamPath] of [
      [`/${name}/mcp`, session, '/mcp'],
      [`/${name}/mcp?x=1`, { 'mcp-session-id': 'x' }, '/mcp'],
      [`/${name}/mcp/`, session, '/mcp/'],
    ] as const) {
      const hop = kong.proxy(path, headers);
      assert.equal(hop?.route.name, `mcp-${name}-session`, path);
      assert.equal(hop?.upstream?.name, `mcp-${name}`, path);
      assert.equal(hop?.upstream?.algorithm, 'consistent-hashing', `${path}: a legacy session is hashed`);
      assert.equal(hop?.path, upstreamPath, `${path}: what the sidecar sees (the query is passed on as it is)`);
    }
    const modern = { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list' };
    for (const [what, path, headers, route, upstreamPath] of [
      ['2026-07-28 request', `/${name}/mcp`, modern, `mcp-${name}`, '/mcp'],
      ['legacy initialize (no session yet)', `/${name}/mcp`, {}, `mcp-${name}`, '/mcp'],
      ['an empty session header', `/${name}/mcp`, { 'Mcp-Session-Id': '' }, `mcp-${name}`, '/mcp'],
      ['REST', `/${name}/tools`, {}, `mcp-${name}`, '/tools'],
      // Any client can send the header: on a REST path it changes nothing, so the per-tool route and its plugins
      // and those on service mcp-<name> apply (before, it took the session route around them).
      ['REST with a session header', `/${name}/tools`, session, `mcp-${name}`, '/tools'],
      ['per-tool REST route', `/${name}/tools/echo`, {}, `mcp-${name}.tools.echo`, `/${name}/tools/echo`],
      [
        'per-tool REST with a session header',
        `/${name}/tools/echo`,
        session,
        `mcp-${name}.tools.echo`,
        `/${name}/tools/echo`,
      ],
      ['the OpenAPI document with a session header', `/${name}/openapi.json`, session, `mcp-${name}`, '/openapi.json'],
      [
        'per-tool MCP route',
        `/${name}/mcp`,
        { ...modern, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'echo' },
        `mcp-${name}.mcp.echo`,
        `/${name}/mcp`,
      ],
      // A modern tools/call that (oddly) also sends a session id still takes its tool route: two headers beat one.
      [
        'per-tool MCP route with a session header',
        `/${name}/mcp`,
        { ...session, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'echo' },
        `mcp-${name}.mcp.echo`,
        `/${name}/mcp`,
      ],
    ] as const) {
      const hop = kong.proxy(path, headers);
      assert.equal(hop?.route.name, route, what);
      // Per-tool routes are on the plain service: stateless, and under the operator's plugins on it.
      assert.equal(hop?.service.name, `mcp-${name}`, what);
      assert.equal(hop?.upstream?.name, `mcp-${name}-rr`, what);
      assert.equal(hop?.upstream?.algorithm, 'round-robin', what);
      assert.equal(hop?.path, upstreamPath, what);
    }

    // The hashed upstream keeps its fallback as a safety net. Kong's document: hash_fallback is "what to use as
    // hashing input if the primary hash_on does not return a hash (eg. header is missing ...)". Not `none`: under
    // consistent-hashing Kong 3.x hashes a missing value as "" (balancer/init.lua), so every header-less request
    // of every client would land on the same target (Kong issue #14251); `none` means round-robin only as `hash_on`.
    const hashed = kong.upstreams.get(`mcp-${name}`)!;
    const field =
      doc.components.requestBodies['upstream-request'].content['application/json'].schema.properties.hash_fallback;
    assert.match(field.description, /header is missing/);
    assert.ok(field.enum.includes(hashed.hash_fallback), `${hashed.hash_fallback} is one of ${field.enum}`);
    assert.equal(hashed.hash_on_header, 'Mcp-Session-Id');
    assert.equal(hashed.hash_fallback, 'ip');
    for (const key of [
      'hash_fallback_header',
      'hash_fallback_query_arg',
      'hash_fallback_uri_capture',
      'hash_on_cookie',
    ])
      assert.equal(hashed[key], undefined, key);

    // Kong's entity rules on the fallback and on route headers are enforced by the double, so the tests above
    // cannot pass on a body real Kong would refuse.
    const good = serverState(name, undefined).session;
    assert.deepEqual(kong.validate('PUT', `/upstreams/mcp-${name}`, good.upstream), []);
    assert.match(
      kong.validate('PUT', `/upstreams/mcp-${name}`, { ...good.upstream, hash_fallback: 'header' }).join('\n'),
      /hash_fallback_header: required/,
    );
    const { hash_on_header: _unused, ...withoutHeader } = good.upstream;
    assert.match(
      kong.validate('PUT', `/upstreams/mcp-${name}`, { ...withoutHeader, hash_on: 'none' }).join('\n'),
      /must be 'none' when hash_on is 'none'/,
    );
    const routePath = `/services/mcp-${name}-session/routes/mcp-${name}-session`;
    assert.deepEqual(kong.validate('PUT', routePath, good.route), []);
    for (const [headers, message] of [
      [{ 'Mcp-Session-Id': ['~*.', 'abc'] }, /only as the single value/],
      [{ 'Mcp-Session-Id': ['~*('] }, /invalid regex/],
      [{ 'Mcp-Session-Id': ['~*'] }, /invalid regex/],
      [{ 'Mcp-Session-Id': [] }, /non-empty array/],
      [{ Host: ['example.com'] }, /'hosts' attribute/],
    ] as const)
      assert.match(kong.validate('PUT', routePath, { ...good.route, headers }).join('\n'), message);

    // Long SSE streams (legacy GET streams, 2026-07-28 subscriptions/listen) flow through either route: no
    // buffering, and a read timeout far above the sidecar's keep-alive comments (15 s default).
    for (const r of [`mcp-${name}`, `mcp-${name}-session`]) {
      const route = kong.routes.get(r)!;
      assert.equal(route.response_buffering, false, r);
      assert.equal(route.request_buffering, false, r);
      const service = kong.services.get(r)!;
      assert.ok(service.read_timeout >= 20 * 15_000, `read_timeout ${service.read_timeout} ms`);
    }
    assertNoViolations();
  });

  test('with an upstream token: a tagged request-transformer plugin on both services makes Kong send it; the token is never logged', async (t) => {
    const name = uniqueName();
    const inst = instance(name, 18090);
    const token = 'kong-to-sidecar-0123456789abcdef';
    const { p, requests, raw } = publisher(t, inst, { upstreamToken: token });
    await publishPassing(p, ['echo']);
    assert.deepEqual(
      requests().map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        `PUT /upstreams/mcp-${name} 200`,
        `PUT /upstreams/mcp-${name}-rr 200`,
        `PUT /services/mcp-${name} 200`,
        `PUT /services/mcp-${name}/routes/mcp-${name} 200`,
        `PUT /services/mcp-${name}/plugins/mcp-${name}-upstream-auth 200`,
        `PUT /services/mcp-${name}-session 200`,
        `PUT /services/mcp-${name}-session/routes/mcp-${name}-session 200`,
        `PUT /services/mcp-${name}-session/plugins/mcp-${name}-session-upstream-auth 200`,
        `POST /upstreams/mcp-${name}/targets 201`,
        `POST /upstreams/mcp-${name}-rr/targets 201`,
      ],
    );
    // Both paths to the sidecars carry the token: a request with or without a session header alike.
    for (const service of [`mcp-${name}`, `mcp-${name}-session`]) {
      const plugin = kong.plugins.get(`${service}-upstream-auth`)!;
      assert.equal(plugin.name, 'request-transformer');
      assert.deepEqual(plugin.service, { id: kong.services.get(service)!.id });
      assert.deepEqual(plugin.config, {
        remove: { headers: ['Authorization'] },
        add: { headers: [`Authorization:Bearer ${token}`] },
      });
      assert.ok(plugin.tags.includes(MANAGED_BY_TAG) && plugin.tags.includes(`mcp-server:${name}`));
      assert.ok(plugin.tags.includes(`instance:${inst.serviceId}`));
    }
    const plugin = kong.plugins.get(`mcp-${name}-upstream-auth`)!;
    assertNoViolations();
    assert.ok(!raw.some((line) => line.includes(token)), 'the token is in no log line');

    // A second instance of the server upserts the same plugin (one per service), not another one.
    const second = publisher(t, instance(name, 18091), { upstreamToken: token });
    await publishPassing(second.p, ['echo']);
    assert.equal([...kong.plugins.values()].filter((e) => e.instance_name === plugin.instance_name).length, 1);
    assert.equal(kong.plugins.get(plugin.instance_name)!.id, plugin.id);
    assert.equal([...kong.plugins.values()].filter((e) => e.tags?.includes(`mcp-server:${name}`)).length, 2);
  });

  test('a plugin Kong refuses is reported without its body: the token stays out of the error and the log', async (t) => {
    const name = uniqueName();
    // A header value Kong's rule refuses (a newline in it); its text is marked so that any echo is found.
    const { p, raw } = publisher(t, instance(name, 18092), { upstreamToken: 'SECRET\nvalue' });
    p.publish(profile(['echo']));
    p.report({ status: 'passing', latencyMs: 3, toolCount: 1 });
    await waitFor(() => p.status().state === 'unreachable', 5000, 'state unreachable (Kong refused the plugin)');
    const error = JSON.stringify(p.status());
    assert.match(error, /plugins\/mcp-[^ ]+-upstream-auth: HTTP 400 \(Kong's answer is not shown/);
    assert.ok(!error.includes('SECRET'), error);
    assert.ok(!raw.some((line) => line.includes('SECRET')), 'the token is in no log line');
    await p.withdraw(2000);
    // The refusal was this test's point, not a contract violation of the publisher: its records go.
    for (let i = kong.requests.length - 1; i >= 0; i--)
      if (kong.requests[i].path.includes(`mcp-${name}/plugins`)) kong.requests.splice(i, 1);
  });

  test('route path option and IPv6 advertise address are published as Kong expects them', async (t) => {
    const name = uniqueName();
    const inst = { ...instance(name, 18091), advertiseHost: '::1' };
    const { p } = publisher(t, inst, { routePath: 'api/tools' });
    p.publish(profile(['echo']));
    await waitFor(() => kong.targetsOf(`mcp-${name}`).size === 1, 5000, 'published');
    assert.deepEqual(kong.routes.get(`mcp-${name}`)!.paths, ['/api/tools']);
    assert.deepEqual(kong.routes.get(`mcp-${name}-session`)!.paths, ['/api/tools/mcp']);
    await waitFor(() => kong.targetsOf(`mcp-${name}-rr`).size === 1, 5000, 'in the round-robin upstream');
    for (const u of [`mcp-${name}`, `mcp-${name}-rr`])
      assert.deepEqual([...kong.targetsOf(u).keys()], ['[::1]:18091'], u);
    await p.withdraw(2000);
    assert.equal(kong.targetsOf(`mcp-${name}`).size + kong.targetsOf(`mcp-${name}-rr`).size, 0);
    assertNoViolations();
  });
});

describe('the contract double itself', () => {
  let kong: KongAdminDouble;
  before(async () => {
    kong = await KongAdminDouble.start();
  });
  after(() => kong.stop());

  test("rejects a body that breaks the OpenAPI document, and accepts the publisher's own bodies", async () => {
    const both = serverState('demo', 'demo-127.0.0.1-8080');
    const good = both.session;
    assert.deepEqual(kong.validate('PUT', '/upstreams/mcp-demo', good.upstream), []);
    assert.deepEqual(kong.validate('PUT', '/upstreams/mcp-demo-rr', both.plain.upstream), []);
    assert.deepEqual(kong.validate('PUT', '/services/mcp-demo', both.plain.service), []);
    assert.deepEqual(kong.validate('PUT', '/services/mcp-demo/routes/mcp-demo', both.plain.route), []);
    assert.deepEqual(kong.validate('PUT', '/services/mcp-demo-session', good.service), []);
    assert.deepEqual(kong.validate('PUT', '/services/mcp-demo-session/routes/mcp-demo-session', good.route), []);
    const { plugin } = serverState('demo', 'demo-127.0.0.1-8080', undefined, 'tok').plain;
    assert.deepEqual(kong.validate('PUT', `/services/mcp-demo/plugins/${plugin!.instance_name}`, plugin), []);
    assert.ok(
      kong
        .validate('PUT', '/services/mcp-demo/plugins/other-name', plugin)
        .some((e) => /instance_name: must match/.test(e)),
    );
    assert.ok(
      kong
        .validate('PUT', `/services/mcp-demo/plugins/${plugin!.instance_name}`, {
          ...plugin,
          config: { add: { headers: ['Authorization'] } },
        })
        .some((e) => /expected "name:value"/.test(e)),
    );
    assert.deepEqual(
      kong.validate(
        'POST',
        '/upstreams/mcp-demo/targets',
        targetState({ name: 'demo', serviceId: 'x', advertiseHost: '10.0.0.5', advertisePort: 8080 }),
      ),
      [],
    );

    const brokenUpstream = {
      ...good.upstream,
      hash_on: 'sticky-session',
      slots: 'many',
      healthchecks: { ...good.upstream.healthchecks, threshold: 500 },
    };
    const upstreamErrors = kong.validate('PUT', '/upstreams/mcp-demo', brokenUpstream);
    assert.ok(
      upstreamErrors.some((e) => /hash_on .*allowed values/.test(e)),
      upstreamErrors.join('\n'),
    );
    assert.ok(
      upstreamErrors.some((e) => /slots must be integer/.test(e)),
      upstreamErrors.join('\n'),
    );
    assert.ok(
      upstreamErrors.some((e) => /threshold must be <= 100/.test(e)),
      upstreamErrors.join('\n'),
    );

    const brokenRoute: Record<string, unknown> = { ...both.plain.route, response_buffering: 'off' };
    delete brokenRoute.protocols;
    const routeErrors = kong.validate('PUT', '/services/mcp-demo/routes/mcp-demo', brokenRoute);
    assert.ok(
      routeErrors.some((e) => /response_buffering must be boolean/.test(e)),
      routeErrors.join('\n'),
    );
    assert.ok(
      routeErrors.some((e) => /required property 'protocols'/.test(e)),
      routeErrors.join('\n'),
    );

    assert.ok(
      kong
        .validate('POST', '/upstreams/mcp-demo/targets', { target: 'a:1', weight: 70000 })
        .some((e) => /weight must be <= 65535/.test(e)),
    );
    assert.ok(
      kong
        .validate('PUT', '/services/mcp-demo', { ...both.plain.service, timeout: 5 })
        .some((e) => /timeout: unknown field/.test(e)),
      "Kong's unknown-field rule",
    );
    assert.ok(
      kong
        .validate('PUT', '/services/mcp-demo', { ...both.plain.service, tags: ['a,b'] })
        .some((e) => /invalid tag/.test(e)),
      "Kong's tag rule",
    );
    assert.ok(
      kong
        .validate('PUT', '/services/mcp-demo-session', { ...good.service, path: 'mcp' })
        .some((e) => /path: should start with: \//.test(e)),
      "Kong's service path rule",
    );

    // Over the wire: answered 400 like a Kong schema violation, and recorded as a violation.
    const res = await fetch(`${kong.url}/upstreams/mcp-demo`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(brokenUpstream),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { name: string }).name, 'schema violation');
    assert.ok(kong.violations.some((v) => v.startsWith('PUT /upstreams/mcp-demo:')));
    assert.ok(!kong.upstreams.has('mcp-demo'), 'nothing stored from a rejected request');
  });

  test("models Kong's v0 path handling: service path, strip_path and the request path combined", () => {
    // Rows of Kong's path handling table (service.path, route path, strip_path, request → upstream), which
    // kong/router/utils.lua get_upstream_uri implements.
    for (const [servicePath, routePath, strip, request, expected] of [
      ['/s', '/tv0', true, '/tv0', '/s'],
      ['/s', '/tv0', true, '/tv0/req', '/s/req'],
      ['/s', '/tv0', true, '/tv0/', '/s/'],
      ['/s', '/fv0', false, '/fv0/req', '/s/fv0/req'],
      ['/s/', '/tv0', true, '/tv0/req', '/s/req'],
      ['/s/', '/fv0', false, '/fv0/req', '/s/fv0/req'],
      [undefined, '/memory', true, '/memory/mcp', '/mcp'],
      [undefined, '/memory', true, '/memory', '/'],
      [undefined, '/memory/tools/echo', false, '/memory/tools/echo?x=1', '/memory/tools/echo'],
      ['/mcp', '/memory/mcp', true, '/memory/mcp', '/mcp'],
    ] as const) {
      const route = { paths: [routePath], strip_path: strip, path_handling: 'v0' };
      assert.equal(
        upstreamPath(route, { path: servicePath }, request),
        expected,
        `${servicePath} ${routePath} ${request}`,
      );
    }
    assert.throws(() => upstreamPath({ paths: ['/a'], path_handling: 'v1' }, {}, '/a'), /not modelled/);
  });

  test("handles the document's known quirks explicitly", async () => {
    // Q1: PUT of a missing target is 404 (the document says upsert).
    await fetch(`${kong.url}/upstreams/mcp-q`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'mcp-q' }),
    });
    const put = await fetch(`${kong.url}/upstreams/mcp-q/targets/10.0.0.1:8080`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: '10.0.0.1:8080' }),
    });
    assert.equal(put.status, 404);
    // Q2: endpoints Kong has but the document lacks are refused as violations.
    const before = kong.violations.length;
    assert.equal((await fetch(`${kong.url}/upstreams/mcp-q/health`)).status, 404);
    assert.equal(kong.violations.length, before + 1);
    assert.match(kong.violations.at(-1)!, /not an operation of Kong's OpenAPI document/);
    // Q3: a service whose name ends in "plugins" is not mistaken for the typo'd plugins path.
    assert.deepEqual(
      kong.validate('PUT', '/services/mcp-plugins', {
        name: 'mcp-plugins',
        protocol: 'http',
        host: 'mcp-plugins',
        port: 8080,
        enabled: true,
      }),
      [],
    );
    // Q4: the typo'd DELETE /routes/{r}/{id} is not an operation.
    assert.match(kong.validate('DELETE', '/routes/r1/abc')[0] ?? '', /not an operation/);
    // Q7: hash_on header is accepted (Kong 3.9 does).
    assert.deepEqual(
      kong.validate('PUT', '/upstreams/mcp-q', { name: 'mcp-q', hash_on: 'header', hash_on_header: 'Mcp-Session-Id' }),
      [],
    );
    // Q8: POST creates answer 201.
    const post = await fetch(`${kong.url}/upstreams/mcp-q/targets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: '10.0.0.1:8080' }),
    });
    assert.equal(post.status, 201);
    // Q9: DELETE of a missing target is 404 (then 204 for an existing one).
    assert.equal((await fetch(`${kong.url}/upstreams/mcp-q/targets/10.0.0.2:8080`, { method: 'DELETE' })).status, 404);
    assert.equal((await fetch(`${kong.url}/upstreams/mcp-q/targets/10.0.0.1:8080`, { method: 'DELETE' })).status, 204);
  });
});
