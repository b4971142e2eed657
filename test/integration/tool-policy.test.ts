/**
 * --tools-allow / --tools-deny with real processes: a hidden tool does not exist in either protocol era, on
 * REST, in isolated sessions, or in what Consul is told (tags, meta, tool hash). The server never sees its call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toolsHash } from '../../sidecar/mcp/profile.js';
import { startConsulAgent, type ConsulAgent } from '../support/consul-agent.js';
import { agentService, serviceIdOf, sidecarWithConsul, uniqueName } from '../support/consul-sidecar.js';
import { callTool, launch, rest, session, textOf } from '../support/harness.js';
import { fixtureCommand, waitFor, waitForReady } from '../support/sidecar-process.js';

/** fault-tools has echo, pid, add, fail, slow, slow-readonly, slow-idempotent, slow-write, meta, deep, flood, … */
const POLICY = ['--tools-allow', 'echo,slow*,meta', '--tools-deny', 'slow-write'];
const VISIBLE = ['echo', 'meta', 'slow', 'slow-idempotent', 'slow-readonly'];

async function listedNames(list: () => Promise<{ tools: Array<{ name: string }> }>): Promise<string[]> {
  return (await list()).tools.map((t) => t.name).sort();
}

describe('tool policy', () => {
  test('legacy sessions and REST: hidden tools are not listed, their calls are unknown-tool errors', async (t) => {
    const sidecar = await launch(t, [...POLICY, '--', ...fixtureCommand('fault-tools')]);
    const client = await session(t, sidecar.url);
    const listed = await client.request('tools/list');
    assert.deepEqual(listed.result.tools.map((x: { name: string }) => x.name).sort(), VISIBLE);
    assert.equal(textOf(await callTool(client, 'echo', { a: 1 })), '{"a":1}');
    for (const hidden of ['pid', 'slow-write', 'add']) {
      const call = await callTool(client, hidden, {});
      assert.deepEqual(call.error, { code: -32602, message: `Tool ${hidden} not found` }, hidden);
    }

    const rested = await fetch(`${sidecar.url}/tools`);
    assert.deepEqual(await listedNames(() => rested.json() as never), VISIBLE);
    const refused = await rest(sidecar.url, 'pid', {});
    assert.equal(refused.status, 404);
    assert.match(refused.body.error, /unknown tool "pid"/);
    assert.deepEqual([...refused.body.tools].sort(), VISIBLE, 'the 404 lists only what exists');
    assert.equal((await rest(sidecar.url, 'echo', { b: 2 })).status, 200);
  });

  test('2026-07-28 (the official client, pinned): the same tools exist, a hidden one is unknown', async (t) => {
    const sidecar = await launch(t, [...POLICY, '--', ...fixtureCommand('fault-tools')]);
    const client = new Client(
      { name: 'policy', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(`${sidecar.url}/mcp`)));
    t.after(() => client.close());
    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.deepEqual(await listedNames(() => client.listTools()), VISIBLE);
    const echoed = await client.callTool({ name: 'echo', arguments: { c: 3 } });
    assert.equal((echoed.content as Array<{ text: string }>)[0].text, '{"c":3}');
    await assert.rejects(client.callTool({ name: 'pid', arguments: {} }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32602);
      assert.match(err.message, /Tool pid not found/);
      return true;
    });
  });

  test('isolated sessions: the client-initialized process lists only the allowed tools', async (t) => {
    const sidecar = await launch(t, ['--session-mode', 'isolated', ...POLICY, '--', ...fixtureCommand('fault-tools')]);
    const client = await session(t, sidecar.url);
    const listed = await client.request('tools/list');
    assert.deepEqual(listed.result.tools.map((x: { name: string }) => x.name).sort(), VISIBLE);
    assert.equal((await callTool(client, 'flooded', {})).error?.code, -32602);
  });

  describe('what Consul is told', () => {
    let consul: ConsulAgent;
    before(async () => {
      consul = await startConsulAgent();
    });
    after(async () => {
      await consul.stop();
    });

    test('tags, meta and the tool hash cover only the tools that exist', async (t) => {
      const name = uniqueName('policy');
      const sidecar = await sidecarWithConsul(t, consul, name, fixtureCommand('fault-tools'), POLICY);
      await waitForReady(sidecar.url);
      const id = serviceIdOf(name, sidecar.url);
      const service = await waitFor(() => agentService(consul, id), 10_000, 'the service registered');
      const toolTags = service.Tags.filter((tag) => tag.startsWith('mcp-tool:')).sort();
      assert.deepEqual(toolTags, VISIBLE.map((n) => `mcp-tool:${n}`).sort());
      assert.deepEqual(service.Meta.mcp_tools.split(',').sort(), VISIBLE);
      assert.equal(service.Meta.mcp_tool_count, String(VISIBLE.length));
      const served = (await (await fetch(`${sidecar.url}/tools`)).json()) as { tools: never[] };
      assert.equal(service.Meta.mcp_tools_hash, toolsHash(served.tools), 'the hash of the tools that exist');
    });
  });
});
