/**
 * Issue 3 end to end: the real sidecar process (`node dist/sidecar/main.js --consul …`) in front of real MCP
 * servers, registering with a real `consul agent -dev`. Each test reports the time it measured.
 * (The SIGKILL-of-the-sidecar reaping test takes over a minute and lives in consul-reap.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startConsulAgent, type ConsulAgent } from '../support/consul-agent.js';
import { sleep } from '../support/harness.js';
import {
  agentService,
  CHECK_TTL_MS,
  checkStatuses,
  childPid,
  PING_INTERVAL_MS,
  serviceIdOf,
  sidecarWithConsul,
  uniqueName,
} from '../support/consul-sidecar.js';
import { servedProtocolVersions } from '../../sidecar/mcp/protocol-versions.js';
import {
  everythingCommand,
  fixtureCommand,
  isRunning,
  readyz,
  waitFor,
  waitForReady,
} from '../support/sidecar-process.js';

async function callTool(
  url: string,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/tools/${tool}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

describe('Consul registration follows the live MCP server (real sidecar, real agent)', () => {
  let consul: ConsulAgent;
  let scratch: string;

  before(async () => {
    consul = await startConsulAgent();
    scratch = await mkdtemp(join(tmpdir(), 'mcp-sidecar-consul-it-'));
  });
  after(async () => {
    await consul?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('a server that handshakes is registered with tags, meta and both checks passing', async (t) => {
    const name = uniqueName('everything');
    const started = Date.now();
    const sidecar = await sidecarWithConsul(t, consul, name, everythingCommand(), ['--tag', 'env:test']);
    const id = serviceIdOf(name, sidecar.url);
    const listed = await waitFor(
      async () => {
        const r = await consul.get(`/v1/health/service/${name}?passing`);
        // The TTL check's output is written right after the registration (a definition carries no output).
        return r.body.length === 1 && r.body[0].Checks.some((c: any) => c.CheckID === `${id}:mcp-ping` && c.Output)
          ? r.body[0]
          : undefined;
      },
      20_000,
      `${name} in /v1/health/service?passing`,
      50,
    );
    t.diagnostic(`listed as passing ${Date.now() - started} ms after the sidecar started`);

    const svc = listed.Service;
    assert.equal(svc.ID, id);
    assert.equal(svc.Address, '127.0.0.1');
    assert.equal(svc.Port, Number(new URL(sidecar.url).port));
    for (const tag of [
      'mcp',
      'transport:streamable-http',
      'mcp-era:dual',
      'session-mode:shared',
      'env:test',
      'mcp-tool:echo',
    ])
      assert.ok(svc.Tags.includes(tag), `tag ${tag} in ${svc.Tags}`);
    const tools = await (await fetch(`${sidecar.url}/tools`)).json();
    const toolNames: string[] = (tools.tools ?? tools).map((tool: { name: string }) => tool.name);
    assert.deepEqual(
      svc.Tags.filter((tag: string) => tag.startsWith('mcp-tool:')).sort(),
      toolNames.map((n) => `mcp-tool:${n}`).sort(),
    );
    assert.equal(svc.Meta.mcp_tool_count, String(toolNames.length));
    assert.match(svc.Meta.mcp_server_name, /everything/);
    assert.ok(svc.Meta.mcp_server_version);
    assert.ok(svc.Meta.mcp_protocol_version);
    // Both eras on /mcp: the modern version first, then every legacy one, whatever server-everything speaks.
    assert.equal(svc.Meta.mcp_protocol_versions, servedProtocolVersions().join(','));
    assert.match(svc.Meta.mcp_protocol_versions, /^2026-07-28,2025-11-25,/);
    // Discovery by era through the catalog: the tag selects the instance.
    const dual = await consul.get(`/v1/health/service/${name}?passing&tag=mcp-era:dual`);
    assert.deepEqual(
      dual.body.map((e: any) => e.Service.ID),
      [id],
    );
    assert.match(svc.Meta.mcp_tools_hash, /^[0-9a-f]+$/);
    assert.equal(svc.Meta.mcp_session_mode, 'shared');
    assert.ok(svc.Meta.mcp_sidecar_version);

    const checks = Object.fromEntries(
      listed.Checks.filter((c: any) => c.ServiceID === id).map((c: any) => [c.CheckID.slice(id.length + 1), c]),
    );
    assert.equal(checks['mcp-ping'].Status, 'passing');
    assert.match(checks['mcp-ping'].Output, /^MCP ping ok in \d+ ms; \d+ tools$/);
    assert.equal(checks['readyz'].Status, 'passing');
    assert.equal(checks['readyz'].Type, 'http');

    // /readyz tells the worker and the registration apart; /metrics exports the registration state.
    const ready = await readyz(sidecar.url);
    assert.equal(ready.body.worker.state, 'ready');
    assert.deepEqual(
      ready.body.publishers.map((p: any) => [p.publisher, p.state]),
      [['consul', 'published']],
    );
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    assert.match(metrics, /registration_state\{publisher="consul",state="published"\} 1/);
  });

  test('commands that fail to start, exit during initialize or fail tools/list never appear in the catalog', async (t) => {
    const cases = [
      { label: 'missing command', command: ['/nonexistent/mcp-server-that-is-not-there'] },
      { label: 'exits during initialize', command: fixtureCommand('exit-on-init') },
      { label: 'tools/list errors', command: fixtureCommand('tools-list-error') },
    ].map((c) => ({ ...c, name: uniqueName(c.label.split(' ')[0].replace(/\W/g, '')) }));
    const sidecars = await Promise.all(
      cases.map((c) => sidecarWithConsul(t, consul, c.name, c.command, ['--restart-min', '100ms'])),
    );

    // The window lasts until every server has failed to come up at least twice (its /readyz counts the restarts);
    // the catalog and the agent are asked every 250 ms within it.
    const started = Date.now();
    let tries = 0;
    const appeared: string[] = [];
    await waitFor(
      async () => {
        tries++;
        const catalog = await consul.get('/v1/catalog/services');
        const agent = await consul.get('/v1/agent/services');
        for (const c of cases) {
          if (c.name in catalog.body) appeared.push(`${c.label}: in /v1/catalog/services on try ${tries}`);
          if (Object.values<any>(agent.body).some((s) => s.Service === c.name))
            appeared.push(`${c.label}: registered with the agent on try ${tries}`);
        }
        if (appeared.length > 0) return true; // the assertion below says what appeared
        const states = await Promise.all(sidecars.map((s) => readyz(s.url)));
        return states.every((r) => r.body.worker?.restarts >= 2 || r.body.status === 'failed');
      },
      15_000,
      'every failing server to have failed to come up twice',
      250,
    );
    assert.deepEqual(appeared, []);
    t.diagnostic(
      `${tries} tries over ${Date.now() - started} ms, while each server failed twice: none of the 3 appeared`,
    );

    // They really were tried (and failed) during that window, and the sidecars say why they are not ready.
    for (const [i, c] of cases.entries()) {
      const r = await readyz(sidecars[i].url);
      assert.equal(r.status, 503, `${c.label}: /readyz ${r.status}`);
      assert.ok(
        r.body.worker.lastFailure || r.body.worker.restarts > 0 || r.body.status === 'failed',
        `${c.label}: ${JSON.stringify(r.body.worker)}`,
      );
      assert.notEqual(r.body.publishers[0]?.state, 'published');
    }
  });

  test('kill -9 of the MCP server: the TTL check is critical within 1 s, passing again after the restart', async (t) => {
    const name = uniqueName('kill-child');
    const sidecar = await sidecarWithConsul(
      t,
      consul,
      name,
      fixtureCommand('tools-by-start', join(scratch, 'kill-child')),
    );
    const id = serviceIdOf(name, sidecar.url);
    await waitForReady(sidecar.url);
    await waitFor(async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing', 10_000, 'passing');
    const pid = await childPid(sidecar.url);

    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'critical',
      5000,
      'critical after kill -9',
      10,
    );
    const toCritical = Date.now() - killed;
    t.diagnostic(`critical ${toCritical} ms after kill -9 of the MCP server (bound 1000 ms)`);
    assert.ok(toCritical < 1000, `critical after ${toCritical} ms`);
    const critical = (await checkStatuses(consul, id))['mcp-ping'];
    assert.match(critical.Output, /MCP server down: /);

    const wentCritical = Date.now();
    await waitFor(
      async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing',
      15_000,
      'passing after the restart',
      20,
    );
    const toPassing = Date.now() - wentCritical;
    t.diagnostic(`passing again ${toPassing} ms after the check went critical`);
    const newPid = await childPid(sidecar.url);
    assert.notEqual(newPid, pid);
  });

  test('a hung MCP server (alive, not answering) turns critical within 2 ping periods', async (t) => {
    const name = uniqueName('hung');
    const sidecar = await sidecarWithConsul(t, consul, name, fixtureCommand('tools-by-start', join(scratch, 'hung')), [
      '--ping-timeout',
      '400ms',
      '--ping-misses',
      '1',
    ]);
    const id = serviceIdOf(name, sidecar.url);
    await waitForReady(sidecar.url);
    await waitFor(async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing', 10_000, 'passing');
    const pid = await childPid(sidecar.url);
    t.after(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // replaced and gone
      }
    });

    // SIGSTOP: the process stays alive but answers nothing, exactly like a server stuck in a busy loop.
    const stopped = Date.now();
    process.kill(pid, 'SIGSTOP');
    await waitFor(
      async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'critical',
      3 * PING_INTERVAL_MS + 3000,
      'critical for a hung server',
      10,
    );
    const toCritical = Date.now() - stopped;
    t.diagnostic(
      `critical ${toCritical} ms after the server stopped answering (ping interval ${PING_INTERVAL_MS} ms, bound ${2 * PING_INTERVAL_MS} ms + ping timeout)`,
    );
    assert.ok(toCritical <= 2 * PING_INTERVAL_MS + 400 + 300, `critical after ${toCritical} ms`);
    // Stopped, the server cannot end by itself: the sidecar kills it as hung and starts a fresh one.
    await waitFor(
      async () => ((await readyz(sidecar.url)).body.worker?.pid ?? pid) !== pid,
      15_000,
      'a fresh server in place of the hung one',
    );
    assert.equal(isRunning(pid), false, 'the hung process was killed, not left stopped');
  });

  test('SIGTERM: deregistered before the server is stopped, and in-flight calls still complete', async (t) => {
    const name = uniqueName('sigterm');
    const sidecar = await sidecarWithConsul(
      t,
      consul,
      name,
      fixtureCommand('tools-by-start', join(scratch, 'sigterm')),
    );
    const id = serviceIdOf(name, sidecar.url);
    await waitForReady(sidecar.url);
    await waitFor(() => agentService(consul, id), 10_000, 'registered');
    const pid = await childPid(sidecar.url);

    const inflight = callTool(sidecar.url, 'slow', { ms: 2000 });
    await waitFor(
      async () => (await readyz(sidecar.url)).body.inflight === 1 || undefined,
      5000,
      'the slow call in flight',
    );
    const signalled = Date.now();
    process.kill(sidecar.pid, 'SIGTERM');
    await waitFor(async () => (await agentService(consul, id)) === undefined || undefined, 5000, 'deregistered', 10);
    const deregisteredAfter = Date.now() - signalled;
    const serverAliveAtDeregistration = isRunning(pid);
    t.diagnostic(
      `deregistered ${deregisteredAfter} ms after SIGTERM, while the MCP server was still running: ${serverAliveAtDeregistration}`,
    );
    assert.ok(serverAliveAtDeregistration, 'the MCP server must still run when the service leaves Consul');

    const result = await inflight;
    const completedAfter = Date.now() - signalled;
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.content[0].text, 'slept 2000 ms');
    const exit = await sidecar.exited;
    t.diagnostic(
      `in-flight call completed ${completedAfter} ms after SIGTERM; sidecar exited with ${exit.code ?? exit.signal}`,
    );
    assert.equal(exit.code, 0);
    assert.equal(isRunning(pid), false, 'the MCP server is stopped after the drain');
    const logs = sidecar.logs();
    assert.ok(
      logs.indexOf('deregistered') !== -1 && logs.indexOf('deregistered') < logs.lastIndexOf('stopped'),
      'log order: deregistered, then stopped',
    );
  });

  test('Consul stopped: HTTP keeps working; a fresh agent: the service is back within one TTL, no sidecar restart', async (t) => {
    const own = await startConsulAgent();
    t.after(() => own.stop());
    const name = uniqueName('outage');
    const sidecar = await sidecarWithConsul(t, own, name, fixtureCommand('tools-by-start', join(scratch, 'outage')));
    const id = serviceIdOf(name, sidecar.url);
    await waitForReady(sidecar.url);
    await waitFor(async () => (await checkStatuses(own, id))['mcp-ping']?.Status === 'passing', 10_000, 'passing');

    await own.stop();
    const down = Date.now();
    await waitFor(
      async () => (await readyz(sidecar.url)).body.publishers?.[0]?.state === 'unreachable',
      3 * CHECK_TTL_MS,
      'publisher unreachable',
      50,
    );
    const noticed = Date.now() - down;
    t.diagnostic(`the sidecar reported Consul unreachable ${noticed} ms after the agent died`);
    for (let i = 0; i < 5; i++) {
      const r = await callTool(sidecar.url, 'echo', { text: `while Consul is down ${i}` });
      assert.equal(r.status, 200, `echo while Consul is down: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.content[0].text, `while Consul is down ${i}`);
    }
    const ready = await readyz(sidecar.url);
    assert.equal(ready.status, 200, `serving stays ready while Consul is down: ${JSON.stringify(ready.body)}`);
    assert.equal(ready.body.worker.state, 'ready');
    assert.ok(ready.body.publishers[0].lastError, 'the error is shown in /readyz');
    // A fixed wait, as what is checked is that nothing more is logged: the publisher retries several times within
    // it (its backoff starts at 250 ms), and no retry may add a line.
    await sleep(1500);
    const outageLines = sidecar
      .logs()
      .split('\n')
      .filter((l) => l.includes('Consul unreachable'));
    assert.equal(outageLines.length, 1, `one log line for the outage, got:\n${outageLines.join('\n')}`);

    await own.restart();
    const restarted = Date.now();
    await waitFor(
      async () =>
        (await checkStatuses(own, id))['mcp-ping']?.Status === 'passing' &&
        (await readyz(sidecar.url)).body.publishers[0].state === 'published',
      CHECK_TTL_MS + 2000,
      'registered and passing on the fresh agent, and /readyz saying so',
      20,
    );
    const back = Date.now() - restarted;
    t.diagnostic(
      `Consul down ${Date.now() - down - back} ms; registered and passing ${back} ms after the fresh agent was up (one TTL = ${CHECK_TTL_MS} ms)`,
    );
    assert.ok(back <= CHECK_TTL_MS, `back after ${back} ms`);
    assert.ok(await agentService(own, id));
    assert.equal(sidecar.proc.exitCode, null, 'the sidecar was not restarted');
  });

  test('a restart of a server whose tools differ updates the tags and meta', async (t) => {
    const name = uniqueName('tools-change');
    const sidecar = await sidecarWithConsul(
      t,
      consul,
      name,
      fixtureCommand('tools-by-start', join(scratch, 'tools-change')),
    );
    const id = serviceIdOf(name, sidecar.url);
    await waitForReady(sidecar.url);
    const first = await waitFor(() => agentService(consul, id), 10_000, 'registered');
    assert.ok(first.Tags.includes('mcp-tool:generation_1'), String(first.Tags));

    process.kill(await childPid(sidecar.url), 'SIGKILL');
    const killed = Date.now();
    // The server counts its starts: the restarted one (normally start 2) offers generation_<n> instead.
    const second = await waitFor(
      async () => {
        const s = await agentService(consul, id);
        return s && !s.Tags.includes('mcp-tool:generation_1') ? s : undefined;
      },
      15_000,
      'tags of the restarted server',
      20,
    );
    t.diagnostic(`tags and meta followed the new tool list ${Date.now() - killed} ms after the old server was killed`);
    const generation = Number(
      second.Tags.find((tag) => tag.startsWith('mcp-tool:generation_'))?.slice('mcp-tool:generation_'.length),
    );
    assert.ok(generation >= 2, `a later generation's tool is tagged: ${second.Tags}`);
    assert.notEqual(second.Meta.mcp_tools_hash, first.Meta.mcp_tools_hash);
    assert.equal(second.Meta.mcp_tools, `echo,slow,generation_${generation}`);
    assert.equal(second.Meta.mcp_server_version, `1.0.${generation}`);
    await waitFor(
      async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing',
      5000,
      'passing after the change',
    );
  });
});
