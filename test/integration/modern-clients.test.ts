/**
 * MCP 2026-07-28 (modern, stateless) clients through the sidecar in front of legacy stdio servers: the official
 * TypeScript client pinned to the revision and in `auto` mode, the raw wire rules of the transport page (headers
 * against the body, x-mcp-header parameters, unknown versions and methods, caching hints, discover), trace
 * context, and a modern client spread over two replicas while a legacy session keeps working. The streams
 * (logging, progress, subscriptions/listen) are in modern-streams.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { callTool, launch, session, textOf } from '../support/harness.js';
import { meta, modern, MODERN } from '../support/modern-post.js';
import { everythingCommand, fixtureCommand } from '../support/sidecar-process.js';

test('the official client pinned to 2026-07-28 and in auto mode lists and calls tools through the sidecar (server-everything, stdio)', async (t) => {
  const sidecar = await launch(t, ['--', ...everythingCommand()]);
  for (const mode of [{ pin: MODERN }, 'auto'] as const) {
    const client = new Client({ name: 'modern-test', version: '1.0.0' }, { versionNegotiation: { mode } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${sidecar.url}/mcp`)));
    t.after(() => client.close());
    assert.equal(
      client.getNegotiatedProtocolVersion(),
      MODERN,
      `mode ${JSON.stringify(mode)} negotiated the modern revision`,
    );
    const { tools } = await client.listTools();
    assert.ok(
      tools.some((tool) => tool.name === 'echo'),
      'echo listed',
    );
    const result = await client.callTool({ name: 'echo', arguments: { message: `hi ${JSON.stringify(mode)}` } });
    assert.equal((result.content as Array<{ text: string }>)[0].text, `Echo: hi ${JSON.stringify(mode)}`);
  }
  assert.doesNotMatch(sidecar.logs(), /mcp-session-id/i);
});

test('modern wire rules: discover, resultType and caching hints (and GET /tools Cache-Control), header mismatches, unknown versions and methods', async (t) => {
  const sidecar = await launch(t, ['--list-ttl', '30s', '--', ...fixtureCommand('fault-tools')]);
  const discover = await modern(sidecar.url, 'server/discover');
  assert.equal(discover.status, 200);
  assert.deepEqual(discover.response!.result.supportedVersions.slice(0, 2), [MODERN, '2025-11-25']);
  assert.equal(discover.response!.result._meta['io.modelcontextprotocol/serverInfo'].name, 'fault-tools');
  assert.equal(discover.headers.get('mcp-session-id'), null, 'no session');

  const list = await modern(sidecar.url, 'tools/list');
  assert.equal(list.response!.result.resultType, 'complete');
  assert.equal(list.response!.result.ttlMs, 30_000);
  assert.equal(list.response!.result.cacheScope, 'public');
  // REST's GET /tools says the same as an HTTP cache header: without auth the list is one for everyone.
  const restList = await fetch(`${sidecar.url}/tools`);
  assert.equal(restList.headers.get('cache-control'), 'public, max-age=30');
  await restList.body?.cancel();
  const call = await modern(sidecar.url, 'tools/call', { name: 'echo', arguments: { a: 1 } });
  assert.equal(textOf(call.response!), '{"a":1}');
  assert.equal(call.response!.result.resultType, 'complete');
  assert.equal(call.response!.result.ttlMs, undefined, 'tools/call is not cacheable');

  const mismatch = await modern(sidecar.url, 'tools/call', { name: 'echo', arguments: {} }, { 'mcp-name': 'pid' });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.response!.error.code, -32020);
  assert.match(mismatch.response!.error.message, /Mcp-Name header "pid" does not match/);
  const encoded = await modern(
    sidecar.url,
    'tools/call',
    { name: 'echo', arguments: { b: 2 } },
    { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` },
  );
  assert.equal(textOf(encoded.response!), '{"b":2}');
  const noMethod = await modern(sidecar.url, 'tools/list', {}, { 'mcp-method': 'tools/call' });
  assert.equal(noMethod.response!.error.code, -32020);

  const unknownVersion = await fetch(`${sidecar.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '1900-01-01',
      'mcp-method': 'tools/list',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/list',
      params: { _meta: meta({ 'io.modelcontextprotocol/protocolVersion': '1900-01-01' }) },
    }),
  });
  assert.equal(unknownVersion.status, 400);
  const unsupported = await unknownVersion.json();
  assert.equal(unsupported.error.code, -32022);
  assert.ok(unsupported.error.data.supported.includes(MODERN));
  assert.equal(unsupported.error.data.requested, '1900-01-01');

  const ping = await modern(sidecar.url, 'ping');
  assert.equal(ping.status, 404);
  assert.equal(ping.response!.error.code, -32601);
});

test('x-mcp-header: Mcp-Param-{name} headers must mirror the annotated arguments, else 400 HeaderMismatch', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const routed = (args: Record<string, unknown>, headers: Record<string, string>) =>
    modern(sidecar.url, 'tools/call', { name: 'routed', arguments: args }, headers);
  const args = { region: 'us-west1', shard: 42, dryRun: false, target: { zone: 'b' }, query: 'SELECT 1' };
  const mirrored = { 'Mcp-Param-Region': 'us-west1', 'Mcp-Param-Shard': '42', 'Mcp-Param-Dry-Run': 'false' };

  // Matching headers (names case-insensitive, an integer compared as a number, a Base64 sentinel decoded).
  const ok = await routed(args, { ...mirrored, 'mcp-param-zone': 'b' });
  assert.equal(ok.status, 200, JSON.stringify(ok.response));
  assert.deepEqual(JSON.parse(textOf(ok.response!)), args);
  const greeting = 'Hello, 世界';
  const decoded = await routed(
    { ...args, region: greeting, shard: 7 },
    {
      ...mirrored,
      'Mcp-Param-Region': `=?base64?${Buffer.from(greeting).toString('base64')}?=`,
      'Mcp-Param-Shard': '7.0',
      'Mcp-Param-Zone': 'b',
    },
  );
  assert.equal(decoded.status, 200, JSON.stringify(decoded.response));
  // An argument absent or null is not mirrored: no header is expected for it.
  const partial = await routed({ region: 'us-west1', shard: null, query: 'x' }, { 'Mcp-Param-Region': 'us-west1' });
  assert.equal(partial.status, 200, JSON.stringify(partial.response));

  const zone = { ...mirrored, 'Mcp-Param-Zone': 'b' };
  // A recognized header holding what a header value may not (here a Latin-1 byte) is refused, argument or not.
  const latin1 = { 'Mcp-Param-Zone': 'b\u00e9' };
  const refusals: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
    [args, { ...zone, 'Mcp-Param-Zone': 'a' }, /Mcp-Param-Zone header "a" does not match argument target\.zone "b"/],
    [args, { ...zone, 'Mcp-Param-Shard': '43' }, /Mcp-Param-Shard header "43" does not match argument shard 42/],
    [args, { ...zone, 'Mcp-Param-Dry-Run': 'true' }, /Mcp-Param-Dry-Run header "true" does not match/],
    [args, mirrored, /the Mcp-Param-Zone header is required: tool "routed" mirrors argument target\.zone/],
    [args, { ...mirrored, ...latin1 }, /the Mcp-Param-Zone header holds characters a header may not/],
    [{ region: 'us-west1' }, { 'Mcp-Param-Region': 'us-west1', ...latin1 }, /Mcp-Param-Zone header holds characters/],
    // A header the body does not back (the argument absent or null): a gateway would route on a value never used.
    [
      { region: 'us-west1', shard: null },
      { 'Mcp-Param-Region': 'us-west1', 'Mcp-Param-Shard': '42' },
      /Mcp-Param-Shard header "42" mirrors argument shard, which the body does not carry \(absent or null\)/,
    ],
    [{ region: 'us-west1' }, { 'Mcp-Param-Region': 'us-west1', 'Mcp-Param-Zone': 'b' }, /argument target\.zone, which/],
  ];
  for (const [sent, headers, why] of refusals) {
    const refused = await routed(sent, headers);
    assert.equal(refused.status, 400, JSON.stringify(headers));
    assert.equal(refused.response!.error.code, -32020);
    assert.match(refused.response!.error.message, why);
  }
});

test("trace context: a gateway's traceparent reaches the server in _meta beside every modern field, none dropped", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const traced = await modern(
    sidecar.url,
    'tools/call',
    { name: 'meta', arguments: {}, _meta: { baggage: 'k=v' } },
    { traceparent, tracestate: 'vendor=1' },
  );
  assert.deepEqual(JSON.parse(textOf(traced.response!)), {
    ...meta({ baggage: 'k=v' }),
    traceparent,
    tracestate: 'vendor=1',
  });
  const own = await modern(
    sidecar.url,
    'tools/call',
    { name: 'meta', arguments: {}, _meta: { traceparent: 'mine' } },
    { traceparent },
  );
  assert.equal(JSON.parse(textOf(own.response!)).traceparent, 'mine', "the body's own trace context wins");
});

test('two replicas: consecutive modern requests alternate between them and all succeed, a legacy session on one keeps working', async (t) => {
  const [a, b] = [
    await launch(t, ['--', ...fixtureCommand('fault-tools')]),
    await launch(t, ['--', ...fixtureCommand('fault-tools')]),
  ];
  const legacy = await session(t, a.url);
  const pids = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const replica = i % 2 === 0 ? a : b; // what a round-robin gateway does with requests that carry no session
    const answer = await modern(replica.url, 'tools/call', { name: 'pid', arguments: {} }, {}, i);
    pids.add(textOf(answer.response!));
    assert.equal(textOf(await callTool(legacy, 'echo', { i })), JSON.stringify({ i }));
  }
  assert.equal(pids.size, 2, 'both replicas answered');
});
