/**
 * OpenTelemetry traces through a real sidecar to a real Collector (otlp receiver, debug exporter): one tools/call
 * with a W3C `traceparent` header arrives as spans under that parent (HTTP → MCP → round trip to the server), and
 * the MCP server got the round trip's context in `_meta.traceparent`, in the same trace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { callTool, launch, session, textOf } from '../support/harness.js';
import { startCollector, type DebugSpan } from '../support/otel-collector.js';
import { fixtureCommand } from '../support/sidecar-process.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

test('a tools/call is traced under the incoming traceparent, and the server gets the same trace in _meta', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sidecar-tracing-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const collector = await startCollector(dir);
  t.after(() => collector.stop());
  const record = join(dir, 'meta.jsonl');
  const sidecar = await launch(t, ['--name', 'traced', '--', ...fixtureCommand('meta-recorder', record)], {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'traced-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  const client = await session(t, sidecar.url);
  const reply = await callTool(
    client,
    'echo',
    { text: 'hi' },
    {
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
    },
  );
  assert.equal(textOf(reply), 'hi');

  let spans: DebugSpan[] = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    spans = collector.spans().filter((s) => s.traceId === TRACE_ID);
    if (spans.some((s) => s.name === 'tools/call echo' && s.kind.includes('Client'))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const find = (name: string, kind: string) => {
    const span = spans.find((s) => s.name === name && s.kind.includes(kind));
    assert.ok(span, `no ${kind} span "${name}" in trace ${TRACE_ID}; collector log:\n${collector.log().slice(-4000)}`);
    return span;
  };
  const http = find('POST /mcp', 'Server');
  assert.equal(http.parentId, CALLER_SPAN, 'the HTTP span is a child of the incoming traceparent');
  assert.equal(http.attributes['http.response.status_code'], '200');
  const mcp = find('tools/call echo', 'Server');
  assert.equal(mcp.parentId, http.id, 'the MCP span is a child of the HTTP span');
  assert.equal(mcp.attributes['mcp.method.name'], 'tools/call');
  assert.equal(mcp.attributes['gen_ai.tool.name'], 'echo');
  assert.equal(mcp.attributes['mcp.session.id'], client.sessionId);
  assert.equal(mcp.attributes['mcp_sidecar.outcome'], 'ok');
  assert.equal(mcp.attributes['mcp_sidecar.era'], 'legacy');
  assert.equal(mcp.attributes['mcp_sidecar.session_mode'], 'shared');
  const roundTrip = find('tools/call echo', 'Client');
  assert.equal(roundTrip.parentId, mcp.id, 'the round trip to the server process is a child of the MCP span');
  assert.equal(roundTrip.attributes['network.transport'], 'pipe');
  assert.match(collector.log(), /service\.name: Str\(traced-test\)/, 'OTEL_SERVICE_NAME names the service');

  const metas = readFileSync(record, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(metas.length, 1);
  assert.equal(metas[0].traceparent, `00-${TRACE_ID}-${roundTrip.id}-01`, 'the server got the round trip as parent');
});
