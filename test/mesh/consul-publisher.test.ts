/**
 * The Consul publisher alone against a real `consul agent -dev`: what it registers, how the TTL check follows
 * reported health, and how it converges again after the agent forgets the service or goes away.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ReconcilingPublisher } from '../../sidecar/mesh/reconciling-publisher.js';
import { consulPublisher, type ConsulPublisherOptions } from '../../sidecar/mesh/consul.js';
import {
  commaList,
  ERA_TAG,
  MAX_TOOL_TAGS,
  META_MAX_KEYS,
  META_VALUE_MAX_BYTES,
  pingCheckId,
  readyzCheckId,
} from '../../sidecar/mesh/consul-registration.js';
import {
  MODERN_PROTOCOL_VERSIONS,
  servedProtocolVersions,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '../../sidecar/mcp/protocol-versions.js';
import type { Instance } from '../../sidecar/mesh/publisher.js';
import type { ServerProfile } from '../../sidecar/mcp/profile.js';
import { capturedLogger, testInstance, testProfile } from '../support/mesh-fixtures.js';
import {
  aclToken,
  sidecarPolicyRules,
  startAclAgent,
  startConsulAgent,
  startReadyzStub,
  type ConsulAgent,
} from '../support/consul-agent.js';
import { waitFor } from '../support/sidecar-process.js';

const TOKEN = 'token-that-must-never-be-logged-5f1c';

let serial = 0;
const instance = (readyzPort: number): Instance => testInstance(`pub-test-${process.pid}-${++serial}`, readyzPort);
const profile = testProfile;

describe('ConsulPublisher against a real Consul agent', () => {
  let consul: ConsulAgent;
  let readyz: Server;
  let readyzPort: number;
  const publishers: ReconcilingPublisher[] = [];

  before(async () => {
    consul = await startConsulAgent();
    ({ server: readyz, port: readyzPort } = await startReadyzStub());
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.withdraw(2000)));
    readyz?.close();
    await consul?.stop();
  });

  function make(overrides: Partial<ConsulPublisherOptions> = {}) {
    const inst = instance(readyzPort);
    const { log, lines, raw } = capturedLogger();
    const publisher = consulPublisher(
      {
        url: consul.url,
        token: TOKEN,
        deregisterAfterMs: 60_000,
        checkTtlMs: 3000,
        tags: ['team:test'],
        readyzUrl: `http://127.0.0.1:${readyzPort}/readyz`,
        ...overrides,
      },
      inst,
      log,
    );
    publishers.push(publisher);
    return { publisher, inst, lines, raw };
  }

  const service = async (id: string) => {
    const r = await consul.get(`/v1/agent/service/${encodeURIComponent(id)}`);
    return r.status === 200 ? r.body : undefined;
  };
  const check = async (id: string) =>
    (await consul.get('/v1/agent/checks')).body[id] as Record<string, any> | undefined;

  test('registers only when published, with tags, meta and both checks, and becomes passing', async (t) => {
    const { publisher, inst, raw } = make();
    assert.equal(publisher.status().state, 'idle');
    publisher.report({ status: 'passing', latencyMs: 3, toolCount: 2 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await service(inst.serviceId), undefined, 'a health report alone must not register anything');

    const started = Date.now();
    publisher.publish(profile(['echo', 'add']));
    publisher.report({ status: 'passing', latencyMs: 3, toolCount: 2 });
    const svc = await waitFor(() => service(inst.serviceId), 5000, 'the service in the agent');
    const ping = await waitFor(
      async () => {
        const c = await check(pingCheckId(inst.serviceId));
        return c?.Status === 'passing' && c.Output ? c : undefined;
      },
      5000,
      'the MCP ping check passing with its output',
    );
    t.diagnostic(`registered with the ping check passing after ${Date.now() - started} ms`);

    assert.equal(svc.Service, inst.name);
    assert.equal(svc.Address, '127.0.0.1');
    assert.equal(svc.Port, inst.advertisePort);
    assert.deepEqual(svc.Tags, [
      'mcp',
      'transport:streamable-http',
      'mcp-era:dual',
      'session-mode:shared',
      'mcp-tool:echo',
      'mcp-tool:add',
      'team:test',
    ]);
    assert.equal(svc.Meta.mcp_server_name, 'test-server');
    assert.equal(svc.Meta.mcp_server_version, '1.2.3');
    assert.equal(svc.Meta.mcp_protocol_version, '2025-11-25');
    assert.equal(svc.Meta.mcp_server_era, 'legacy', 'the era the sidecar found when it probed the server');
    // The versions served to HTTP clients: 2026-07-28 first, then every legacy version, whatever the child speaks.
    assert.equal(svc.Meta.mcp_protocol_versions, '2026-07-28,2025-11-25,2025-06-18,2025-03-26,2024-11-05,2024-10-07');
    assert.equal(svc.Meta.mcp_tool_count, '2');
    assert.equal(svc.Meta.mcp_tools, 'echo,add');
    assert.equal(svc.Meta.mcp_tools_hash, profile(['echo', 'add']).toolsHash);
    assert.equal(svc.Meta.mcp_sidecar_version, '0.1.0-test');
    assert.equal(svc.Meta.mcp_session_mode, 'shared');
    assert.equal(ping.Name, 'MCP ping');
    assert.equal(ping.Output, 'MCP ping ok in 3 ms; 2 tools');

    const http = await waitFor(
      async () => {
        const c = await check(readyzCheckId(inst.serviceId));
        return c?.Status === 'passing' ? c : undefined;
      },
      15_000,
      'the agent-run /readyz HTTP check passing',
    );
    assert.equal(http.Type, 'http');
    const listed = await waitFor(
      async () => {
        const r = await consul.get(`/v1/health/service/${inst.name}?passing`);
        return r.body.length === 1 ? r.body : undefined;
      },
      5000,
      'the instance in /v1/health/service?passing',
    );
    assert.equal(listed[0].Service.ID, inst.serviceId);
    await waitFor(() => publisher.status().state === 'published', 2000, 'state published');
    t.diagnostic(`listed as passing after ${Date.now() - started} ms`);

    // The definition carries DeregisterCriticalServiceAfter (so a killed sidecar disappears on its own).
    const catalogChecks = await consul.get(`/v1/health/checks/${inst.name}`);
    assert.equal(catalogChecks.body.length, 2);
    for (const line of raw) assert.ok(!line.includes(TOKEN), 'the ACL token must never be logged');
  });

  test('meta stays within Consul limits and tags are capped for a huge tool list', async () => {
    const { publisher, inst } = make();
    const names = Array.from({ length: 2000 }, (_, i) => `tool_${String(i).padStart(4, '0')}_${'x'.repeat(100)}`);
    const longName = `服务器-${'é'.repeat(600)}`;
    publisher.publish(
      profile(names, { serverInfo: { name: longName, version: 'v'.repeat(1000) }, toolsHash: 'abcdef0123456789' }),
    );
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: names.length });
    const svc = await waitFor(() => service(inst.serviceId), 8000, 'the service with 2000 tools');
    const keys = Object.keys(svc.Meta);
    assert.ok(keys.length <= META_MAX_KEYS);
    for (const [key, value] of Object.entries<string>(svc.Meta)) {
      assert.match(key, /^[A-Za-z0-9_-]+$/);
      assert.ok(Buffer.byteLength(value) <= META_VALUE_MAX_BYTES, `${key} is ${Buffer.byteLength(value)} bytes`);
    }
    assert.equal(svc.Meta.mcp_tool_count, '2000');
    assert.equal(svc.Meta.mcp_tools_truncated, 'true');
    assert.ok(svc.Meta.mcp_tools.endsWith(',…'), 'the tool list is cut at a name boundary and marked');
    for (const listed of svc.Meta.mcp_tools.replace(/,…$/, '').split(','))
      assert.ok(names.includes(listed), `"${listed}" is a whole tool name`);
    assert.ok(svc.Meta.mcp_server_name.startsWith('服务器-é') && svc.Meta.mcp_server_name.endsWith('…'));
    assert.match(svc.Meta.mcp_tool_tags_truncated, /500 of 2000/);
    // Huge tool lists never push out what discovery selects on.
    assert.equal(svc.Meta.mcp_protocol_versions, servedProtocolVersions().join(','));
    assert.ok(svc.Tags.includes(ERA_TAG));
    const toolTags = svc.Tags.filter((tag: string) => tag.startsWith('mcp-tool:'));
    assert.equal(toolTags.length, MAX_TOOL_TAGS);
    await waitFor(() => publisher.status().state === 'published', 2000, 'state published');
  });

  test('the served versions: modern first, then every legacy one; a list past the value limit is cut at a version', () => {
    assert.deepEqual(servedProtocolVersions(), [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS]);
    assert.equal(servedProtocolVersions()[0], '2026-07-28');
    assert.equal(new Set(servedProtocolVersions()).size, servedProtocolVersions().length, 'no version listed twice');
    const many = Array.from({ length: 60 }, (_, i) => `20${String(i).padStart(2, '0')}-01-01`);
    const cut = commaList(many, META_VALUE_MAX_BYTES);
    assert.equal(cut.complete, false);
    assert.ok(Buffer.byteLength(cut.text) <= META_VALUE_MAX_BYTES, `${Buffer.byteLength(cut.text)} bytes`);
    assert.ok(cut.text.endsWith(',…'));
    assert.deepEqual(
      cut.text.replace(/,…$/, '').split(','),
      many.slice(0, cut.text.split(',').length - 1),
      'whole versions, in order',
    );
    assert.deepEqual(commaList(servedProtocolVersions(), META_VALUE_MAX_BYTES), {
      text: servedProtocolVersions().join(','),
      complete: true,
    });
  });

  test('critical is reported at once with the reason; passing follows the next good ping', async (t) => {
    const { publisher, inst } = make({ checkTtlMs: 30_000 });
    publisher.publish(profile(['echo']));
    publisher.report({ status: 'passing', latencyMs: 2, toolCount: 1 });
    await waitFor(async () => (await check(pingCheckId(inst.serviceId)))?.Status === 'passing', 5000, 'passing');

    let started = Date.now();
    publisher.report({ status: 'critical', reason: 'MCP server exited (signal SIGKILL)' });
    const critical = await waitFor(
      async () => {
        const c = await check(pingCheckId(inst.serviceId));
        return c?.Status === 'critical' ? c : undefined;
      },
      2000,
      'critical',
      10,
    );
    t.diagnostic(`critical in Consul ${Date.now() - started} ms after the report`);
    assert.match(critical.Output, /SIGKILL/);

    started = Date.now();
    publisher.report({ status: 'passing', latencyMs: 4, toolCount: 1 });
    const passing = await waitFor(
      async () => {
        const c = await check(pingCheckId(inst.serviceId));
        return c?.Status === 'passing' ? c : undefined;
      },
      2000,
      'passing again',
      10,
    );
    t.diagnostic(`passing again ${Date.now() - started} ms after the report`);
    assert.equal(passing.Output, 'MCP ping ok in 4 ms; 1 tools');

    // Passing reports in a burst are throttled (at most one update per checkTtl/3 = 10 s here): the output
    // still names the first of them a second later.
    for (let i = 10; i < 30; i++) {
      publisher.report({ status: 'passing', latencyMs: i, toolCount: 1 });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await check(pingCheckId(inst.serviceId)))?.Output, 'MCP ping ok in 4 ms; 1 tools');
  });

  test('registers again within one TTL when the agent forgets the service (passing and critical)', async (t) => {
    for (const status of ['passing', 'critical'] as const) {
      const { publisher, inst, lines } = make({ checkTtlMs: 3000 });
      publisher.publish(profile(['echo']));
      publisher.report(status === 'passing' ? { status, latencyMs: 1, toolCount: 1 } : { status, reason: 'hung' });
      await waitFor(async () => (await check(pingCheckId(inst.serviceId)))?.Status === status, 5000, `${status} check`);
      const pinger = setInterval(() => {
        if (status === 'passing') publisher.report({ status, latencyMs: 1, toolCount: 1 });
      }, 500);
      t.after(() => clearInterval(pinger));

      const removed = await consul.put(`/v1/agent/service/deregister/${inst.serviceId}`);
      assert.equal(removed.status, 200);
      const started = Date.now();
      assert.equal(await service(inst.serviceId), undefined);
      await waitFor(() => service(inst.serviceId), 3000 + 1000, `the ${status} service registered again`);
      const elapsed = Date.now() - started;
      t.diagnostic(`${status}: back ${elapsed} ms after an operator deregistered it (TTL 3000 ms)`);
      await waitFor(
        async () => (await check(pingCheckId(inst.serviceId)))?.Status === status,
        3000,
        `the check ${status} again`,
      );
      clearInterval(pinger);
      assert.equal(lines.filter((l) => /no longer has this service/.test(l.msg)).length, 1);
      await publisher.withdraw(2000);
    }
  });

  test('Consul down: one log line, state unreachable; Consul back (a fresh agent): registered again', async (t) => {
    // A separate agent: this one is stopped and restarted.
    const own = await startConsulAgent();
    t.after(() => own.stop());
    const inst = instance(readyzPort);
    const { log, lines } = capturedLogger();
    const publisher = consulPublisher(
      {
        url: own.url,
        deregisterAfterMs: 60_000,
        checkTtlMs: 3000,
        tags: [],
        readyzUrl: `http://127.0.0.1:${readyzPort}/readyz`,
      },
      inst,
      log,
    );
    t.after(() => publisher.withdraw(1000));
    publisher.publish(profile(['echo']));
    const pinger = setInterval(() => publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 }), 300);
    t.after(() => clearInterval(pinger));
    await waitFor(
      async () => (await own.get(`/v1/agent/service/${inst.serviceId}`)).status === 200,
      5000,
      'registered',
    );

    await own.stop();
    await waitFor(() => publisher.status().state === 'unreachable', 5000, 'state unreachable');
    assert.ok(publisher.status().lastError, 'the status names the error');
    // Several retries happen while it is down; only the state change is logged above debug.
    await new Promise((r) => setTimeout(r, 2500));
    const warnings = lines.filter((l) => l.level >= 40 && /unreachable/.test(l.msg));
    assert.equal(warnings.length, 1, `one warning for the outage, got ${warnings.length}`);
    assert.ok(lines.filter((l) => l.msg === 'Consul still unreachable').length >= 2, 'retries continued');

    await own.restart();
    const started = Date.now();
    await waitFor(
      async () => (await own.get(`/v1/agent/service/${inst.serviceId}`)).status === 200,
      3000 + 1000,
      'registered on the fresh agent',
    );
    t.diagnostic(`registered on the restarted agent ${Date.now() - started} ms after it was up (TTL 3000 ms)`);
    await waitFor(
      async () => (await own.get('/v1/agent/checks')).body[pingCheckId(inst.serviceId)]?.Status === 'passing',
      3000,
      'passing on the fresh agent',
    );
    await waitFor(() => publisher.status().state === 'published', 2000, 'state published');
    assert.equal(lines.filter((l) => /reachable again/.test(l.msg)).length, 1);
  });

  test('profile change updates tags and meta in place', async () => {
    const { publisher, inst } = make();
    publisher.publish(profile(['a1', 'a2']));
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 2 });
    await waitFor(async () => (await service(inst.serviceId))?.Meta.mcp_tools === 'a1,a2', 5000, 'first profile');
    publisher.publish(profile(['b1'], { toolsHash: 'second' }));
    const svc = await waitFor(
      async () => {
        const s = await service(inst.serviceId);
        return s?.Meta.mcp_tools_hash === 'second' ? s : undefined;
      },
      5000,
      'second profile',
    );
    assert.deepEqual(
      svc.Tags.filter((tag: string) => tag.startsWith('mcp-tool:')),
      ['mcp-tool:b1'],
    );
    assert.equal(svc.Meta.mcp_tool_count, '1');
    // The check keeps following health across the re-registration.
    await waitFor(async () => (await check(pingCheckId(inst.serviceId)))?.Status === 'passing', 3000, 'still passing');
  });

  test('withdraw deregisters; with Consul down it still resolves by its deadline', async (t) => {
    const { publisher, inst } = make();
    publisher.publish(profile(['echo']));
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await waitFor(() => service(inst.serviceId), 5000, 'registered');
    await publisher.withdraw(3000);
    assert.equal(await service(inst.serviceId), undefined);
    assert.equal(publisher.status().state, 'withdrawn');
    publisher.publish(profile(['echo']));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await service(inst.serviceId), undefined, 'nothing is published after a withdrawal');

    // Nothing listens on this port: every call fails at once and the deadline is what ends withdraw().
    const nowhere = consulPublisher(
      {
        url: 'http://127.0.0.1:9',
        deregisterAfterMs: 60_000,
        checkTtlMs: 3000,
        tags: [],
        readyzUrl: 'http://127.0.0.1:9/readyz',
      },
      instance(readyzPort),
      capturedLogger().log,
    );
    nowhere.publish(profile(['echo']));
    await waitFor(() => nowhere.status().state === 'unreachable', 3000, 'unreachable');
    const started = Date.now();
    await nowhere.withdraw(800);
    const took = Date.now() - started;
    t.diagnostic(`withdraw with Consul down returned after ${took} ms (deadline 800 ms)`);
    assert.ok(took < 800 + 500, `withdraw took ${took} ms`);
  });
});

describe('ConsulPublisher with ACLs enforced (default deny)', () => {
  let consul: ConsulAgent;

  before(async () => {
    consul = await startAclAgent();
  });
  after(() => consul?.stop());

  test('the token from consul/sidecar-policy.hcl is enough; no token is a clear, logged-once failure', async (t) => {
    const inst = instance(1);
    const secret = await aclToken(consul, `sidecar-${inst.name}`, sidecarPolicyRules(inst.name));

    const opts = {
      url: consul.url,
      deregisterAfterMs: 60_000,
      checkTtlMs: 3000,
      tags: [],
      readyzUrl: 'http://127.0.0.1:1/readyz',
    };
    const denied = capturedLogger();
    const anonymous = consulPublisher(opts, inst, denied.log);
    t.after(() => anonymous.withdraw(1000));
    anonymous.publish(profile(['echo']));
    anonymous.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await waitFor(() => anonymous.status().state === 'unreachable', 5000, 'the anonymous publisher to fail');
    assert.match(anonymous.status().lastError ?? '', /HTTP 403.*service:write/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(denied.lines.filter((l) => l.level >= 40).length, 1, 'one warning, however many retries');
    await anonymous.withdraw(1000);

    const allowed = capturedLogger();
    const publisher = consulPublisher({ ...opts, token: secret }, inst, allowed.log);
    t.after(() => publisher.withdraw(1000));
    publisher.publish(profile(['echo']));
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await waitFor(
      async () => (await consul.get('/v1/agent/checks')).body[pingCheckId(inst.serviceId)]?.Status === 'passing',
      5000,
      'registered and passing with the policy token',
    );
    await waitFor(() => publisher.status().state === 'published', 2000, 'state published');
    for (const line of allowed.raw) assert.ok(!line.includes(secret), 'the token is never logged');
    await publisher.withdraw(2000);
    assert.equal(
      (await consul.get(`/v1/agent/service/${inst.serviceId}`)).status,
      404,
      'deregistered with the same token',
    );
  });
});

describe('ConsulPublisher input checks (no agent needed)', () => {
  test('an incomplete profile (no finished handshake) is never registered', async () => {
    const { log, lines } = capturedLogger();
    const publisher = consulPublisher(
      {
        url: 'http://127.0.0.1:9',
        deregisterAfterMs: 60_000,
        checkTtlMs: 3000,
        tags: [],
        readyzUrl: 'http://127.0.0.1:9/readyz',
      },
      instance(1),
      log,
    );
    publisher.publish({ tools: [], toolsHash: 'x' } as unknown as ServerProfile);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(publisher.status().state, 'idle', 'nothing desired, nothing attempted');
    assert.equal(lines.filter((l) => /incomplete server profile/.test(l.msg)).length, 1);
    await publisher.withdraw(500);
    assert.equal(publisher.status().state, 'withdrawn');
  });
});
