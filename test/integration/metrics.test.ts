/** /metrics: Prometheus text with calls by method and outcome, latency per tool, in-flight, sessions, HTTP requests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, metric, rest, session } from '../support/harness.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

test('metrics follow the calls, sessions and calls in flight', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '300ms', '--', ...fixtureCommand('paged-tools')]);
  const res = await fetch(`${sidecar.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  // The sidecar runs on the Node that runs the tests (npm test runs them on two: see scripts/test.sh).
  const first = await res.text();
  const version = /^mcp_sidecar_nodejs_version_info\{version="([^"]+)"/m.exec(first)?.[1];
  assert.equal(version, process.version, 'the sidecar runs on the Node under test');
  // Node's default metrics, but not the GC histogram: its observer of every GC cost 8-10% of CPU per call (metrics.ts).
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_space_size_used_bytes',
  ])
    assert.match(first, new RegExp(`^mcp_sidecar_${name}`, 'm'), name);
  assert.doesNotMatch(first, /nodejs_gc_duration_seconds/);

  const client = await session(t, sidecar.url);
  for (let i = 0; i < 3; i++) await callTool(client, 'echo', { i });
  await rest(sidecar.url, 'echo', {});
  await callTool(client, 'slow', { ms: 2000, steps: 1 }); // times out
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { method: 'tools/call', outcome: 'ok' }), 4);
  assert.equal(
    await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { method: 'tools/call', outcome: 'timeout' }),
    1,
  );
  assert.equal(
    await metric(sidecar.url, 'mcp_sidecar_rpc_duration_seconds_count', { method: 'tools/call', tool: 'echo' }),
    4,
  );
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_sessions'), 1);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_workers_ready'), 1);
  assert.ok((await metric(sidecar.url, 'mcp_sidecar_http_requests_total', { route: '/mcp', status: '200' })) >= 5);

  // An unknown tool name must not become a label of its own.
  await callTool(client, 'made-up-tool-name', {});
  const text = await (await fetch(`${sidecar.url}/metrics`)).text();
  assert.doesNotMatch(text, /made-up-tool-name/);
  // Nor an invented method: every method outside MCP's own is counted under one label.
  for (const i of [1, 2, 3]) {
    const answer = await client.request(`made/up-method-${i}`, {});
    assert.equal(answer.error?.code, -32601, 'the server does not know it');
  }
  assert.doesNotMatch(await (await fetch(`${sidecar.url}/metrics`)).text(), /made\/up-method/);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { method: '(other)', outcome: 'error' }), 3);

  const pending = callTool(client, 'slow', { ms: 250, steps: 1 });
  await waitFor(
    async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 1,
    3000,
    'in-flight gauge at 1',
  );
  await pending;
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0);
});
