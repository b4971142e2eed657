/**
 * Hostile input never takes the sidecar down, never poisons a session, and never lets one client starve the
 * others: each test is a reproduced attack (issue "Hardening"), run against the real sidecar process.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { callTool, launch, metric, session, sleep, textOf } from '../support/harness.js';
import { fixtureCommand, readyz, serverProcesses, waitFor, type JsonRpcMessage } from '../support/sidecar-process.js';

const deepArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

/** The pid of the MCP server behind a sidecar, as /readyz reports it. */
async function serverPid(url: string): Promise<number> {
  const body = await (await fetch(`${url}/readyz`)).json();
  return body.worker.pid;
}

/** Resident memory of a process, in MB (Linux). */
async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

test('a request nesting past --max-depth is refused with 400/-32600 before anything is registered; the process survives the server being killed after it', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);
  const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":${deepArrays(5000)}}}}`;
  const res = await client.post(body);
  assert.equal(res.status, 400);
  const answer = await res.json();
  assert.equal(answer.error.code, -32600);
  assert.match(answer.error.message, /nests deeper than 64 levels \(--max-depth\)/);
  // Not poisoned: the same id is free again, and the session still works.
  assert.equal(
    textOf(await client.request('tools/call', { name: 'echo', arguments: { ok: 1 } }, { id: 1 })),
    '{"ok":1}',
  );
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0);

  process.kill(await serverPid(sidecar.url), 'SIGKILL');
  await waitFor(
    async () => (await fetch(`${sidecar.url}/readyz`)).status === 200 && (await serverPid(sidecar.url)),
    10_000,
    'the server back after kill -9',
  );
  assert.equal(sidecar.proc.exitCode, null, 'the sidecar is still running');
  const started = Date.now();
  const exit = await sidecar.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - started < 5000, 'no grace period waited out for a leftover call');
});

test('a reply nesting deeper than the sidecar relays fails that call with -32003; the sidecar and the session go on', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);
  const deep = await callTool(client, 'deep', { depth: 5000 });
  assert.equal(deep.error?.code, -32003, JSON.stringify(deep).slice(0, 300));
  assert.match(deep.error.message, /nests deeper than 1000 levels/);
  const rest = await fetch(`${sidecar.url}/tools/deep`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"depth":5000}',
  });
  assert.equal(rest.status, 502);
  assert.match((await rest.json()).error, /nests deeper/);
  // A reply nesting deeply but within the limit is relayed intact.
  const fine = await callTool(client, 'deep', { depth: 200 });
  assert.equal(JSON.stringify(fine.result.structuredContent.nested), deepArrays(200));
  assert.equal(textOf(await callTool(client, 'echo', { after: 'deep' })), '{"after":"deep"}');
  assert.equal(sidecar.proc.exitCode, null);
});

test('malformed envelopes are answered at once with -32602 instead of waiting out the request timeout', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '30s', '--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);
  const started = Date.now();
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ method: 'tools/list', params: [1, 2] }, /params of tools\/list must be a JSON object/],
    [{ method: 'tools/call', params: { name: 'echo', _meta: 'x' } }, /_meta .* must be a JSON object/],
    [{ method: 'tools/call', params: { name: 7 } }, /tools\/call needs params\.name as a string/],
    [{ method: 'tools/call', params: { name: 'echo', arguments: [1] } }, /arguments must be a JSON object/],
    [{ method: 'resources/read', params: {} }, /resources\/read needs params\.uri/],
  ];
  for (const [i, [message, why]] of cases.entries()) {
    const res = await client.post({ jsonrpc: '2.0', id: 100 + i, ...message });
    const answer = await res.json();
    assert.equal(answer.id, 100 + i);
    assert.equal(answer.error?.code, -32602, JSON.stringify(answer));
    assert.match(answer.error.message, why);
  }
  // A progress token JSON parses to Infinity: its progress would come back with a null token, matching nothing.
  const infinite = await client.post(
    '{"jsonrpc":"2.0","id":200,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1e400}}}',
  );
  const refused = await infinite.json();
  assert.equal(refused.error?.code, -32602, JSON.stringify(refused));
  assert.match(refused.error.message, /progressToken must be a string or a number \(a finite one\)/);
  assert.ok(Date.now() - started < 5000, 'answered at once');
  assert.doesNotMatch(sidecar.logs(), /could not parse a line from the client/);
});

test('isolated mode: --max-sessions holds under a flood of concurrent initializes (the slot is taken before the process starts)', async (t) => {
  const sidecar = await launch(t, [
    '--session-mode',
    'isolated',
    '--max-sessions',
    '2',
    '--warm',
    '1',
    '--',
    ...fixtureCommand('fault-tools'),
  ]);
  await waitFor(async () => (await readyz(sidecar.url)).body.isolated?.spares === 1, 5000, 'the warm spare');
  // The primary (REST, health), one process per session and the warm pool: never more, not even for a moment.
  const bound = 1 + 2 + 1;
  let peak = 0;
  let flooding = true;
  const sampler = (async () => {
    for (let i = 0; flooding && i < 10_000; i++) {
      peak = Math.max(peak, (await serverProcesses(sidecar)).length);
      await sleep(2);
    }
  })();
  const init = (i: number) =>
    fetch(`${sidecar.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: i,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'flood', version: '1' } },
      }),
    });
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => init(i)));
  const statuses = results.map((r) => r.status);
  await Promise.all(results.map((r) => r.text()));
  // After the flood, once the spare taken by a session is replaced: exactly the bound (the count is real).
  await waitFor(async () => (await readyz(sidecar.url)).body.isolated?.spares === 1, 5000, 'the spare refilled');
  flooding = false;
  await sampler;
  const after = (await serverProcesses(sidecar)).length;
  t.diagnostic(`server processes: ${peak} at the peak, ${after} after (bound ${bound})`);
  assert.ok(peak <= bound, `${peak} server processes at the peak of the flood, over ${bound}`);
  assert.equal(after, bound, `${after} server processes after the flood`);
  assert.equal(statuses.filter((s) => s === 200).length, 2, `statuses: ${statuses.join(',')}`);
  assert.equal(statuses.filter((s) => s === 503).length, 28);
  const ready = await (await fetch(`${sidecar.url}/readyz`)).json();
  assert.equal(ready.isolated.sessions, 2, 'two session processes, not thirty');
});

test('one client cannot starve the others: --max-batch, --max-session-inflight and --max-inflight answer at once', async (t) => {
  const sidecar = await launch(t, [
    '--max-batch',
    '50',
    '--max-session-inflight',
    '4',
    '--max-inflight',
    '6',
    '--',
    ...fixtureCommand('fault-tools'),
  ]);
  const greedy = await session(t, sidecar.url);
  const other = await session(t, sidecar.url);

  const batch = Array.from({ length: 51 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
  const tooBig = await greedy.post(batch);
  assert.equal(tooBig.status, 400);
  assert.match((await tooBig.json()).error.message, /batch of 51 messages is over the limit of 50 \(--max-batch\)/);

  // Four slow calls fill the greedy session's share; a fifth, alone in its POST, is refused with 503.
  const slow = Array.from({ length: 4 }, (_, i) => callTool(greedy, 'slow', { ms: 1500, steps: 1 }, { id: `s${i}` }));
  await waitFor(
    async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 4,
    3000,
    'four calls in flight',
  );
  const fifth = await greedy.post({
    jsonrpc: '2.0',
    id: 'fifth',
    method: 'tools/call',
    params: { name: 'echo', arguments: {} },
  });
  assert.equal(fifth.status, 503);
  assert.equal(fifth.headers.get('retry-after'), '1');
  const refused = await fifth.json();
  assert.equal(refused.error.code, -32005);
  assert.match(refused.error.message, /--max-session-inflight 4/);

  // The other client is served at once meanwhile.
  const started = Date.now();
  assert.equal(textOf(await callTool(other, 'echo', { mine: true })), '{"mine":true}');
  assert.ok(Date.now() - started < 1000);
  // Two more fill the server's share (6): the next request of anyone is refused, and REST says 503 too.
  const more = [callTool(other, 'slow', { ms: 1500, steps: 1 }), callTool(other, 'slow', { ms: 1500, steps: 1 })];
  await waitFor(async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 6, 3000, 'six calls in flight');
  const full = await other.post({
    jsonrpc: '2.0',
    id: 'full',
    method: 'tools/call',
    params: { name: 'echo', arguments: {} },
  });
  assert.equal(full.status, 503);
  const fullAnswer = await full.json();
  assert.equal(fullAnswer.error?.code, -32005);
  assert.match(fullAnswer.error.message, /--max-inflight 6/);
  const rest = await fetch(`${sidecar.url}/tools/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(rest.status, 503);
  assert.equal(rest.headers.get('retry-after'), '1');
  assert.ok((await metric(sidecar.url, 'mcp_sidecar_queue_depth')) >= 6);
  for (const r of await Promise.all([...slow, ...more])) assert.equal(textOf(r), 'done');
  assert.ok((await metric(sidecar.url, 'mcp_sidecar_overload_refusals_total')) >= 3);
});

test('an SSE stream whose client does not read is closed past --stream-buffer; memory stays bounded', async (t) => {
  const sidecar = await launch(t, ['--stream-buffer', '256kb', '--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);
  const before = await rssMb(sidecar.pid);
  // A GET stream whose reader never reads: paused at once, so the socket's window fills and writes back up.
  const url = new URL(`${sidecar.url}/mcp`);
  const stalled = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: '/mcp',
        headers: { accept: 'text/event-stream', ...client.headers() },
      },
      (res) => {
        res.pause();
        resolve(res);
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.after(() => stalled.destroy());
  assert.equal(stalled.statusCode, 200);
  // 2,000 × 64 KB = 128 MB of server-wide list_changed notifications, all bound for the stalled stream.
  assert.equal(textOf(await callTool(client, 'flood', { count: 2000, bytes: 65_536 })), 'flooding');
  await waitFor(
    async () => (await metric(sidecar.url, 'mcp_sidecar_sse_slow_streams_closed_total')) >= 1,
    20_000,
    'the stalled stream closed',
  );
  await sleep(500);
  const after = await rssMb(sidecar.pid);
  assert.ok(
    after - before < 100,
    `RSS grew by ${Math.round(after - before)} MB (from ${Math.round(before)} to ${Math.round(after)})`,
  );
  assert.equal(textOf(await callTool(client, 'echo', { still: 'here' })), '{"still":"here"}');
});

test('small ones: Last-Event-ID cannot take over a JSON answer, two Mcp-Session-Id headers are refused, ids beyond 2^53 round-trip exactly', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);

  // A JSON POST in flight (no progress token: answered as plain JSON), and a GET naming its stream.
  const pending = client.request('tools/call', { name: 'slow', arguments: { ms: 800, steps: 1 } }, { id: 'json-call' });
  await waitFor(async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 1, 3000, 'the call in flight');
  // Stream ids are small counters: try every one the JSON exchange can have (a stream that is not it may be
  // opened as the session's GET stream, which is fine; the exchange's own must be refused).
  const statuses: number[] = [];
  for (let stream = 1; stream <= 8; stream++) {
    const abort = new AbortController();
    const res = await fetch(`${sidecar.url}/mcp`, {
      headers: { ...client.headers(), accept: 'text/event-stream', 'last-event-id': `${stream}_0` },
      signal: abort.signal,
    });
    statuses.push(res.status);
    abort.abort();
  }
  assert.ok(statuses.includes(409), `statuses ${statuses.join(',')}`);
  assert.equal(textOf(await pending), 'done', 'the POST still gets its answer');

  const url = new URL(`${sidecar.url}/mcp`);
  const twice = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const headers = Object.entries({ ...client.headers(), host: url.host }).flatMap(([k, v]) => [k, v]);
    headers.push('mcp-session-id', client.sessionId!);
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: '/mcp', method: 'POST', headers, setHost: false },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  });
  assert.equal(twice.status, 400);
  assert.match(twice.body, /more than one Mcp-Session-Id header/);

  for (const id of ['9007199254740993', '-9007199254740993', '123456789012345678901234567890']) {
    const res = await client.post(
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"n":1}}}`,
    );
    const text = await res.text();
    assert.match(text, new RegExp(`"id":${id}[,}]`), text);
  }
  const batch = await client.post(
    `[{"jsonrpc":"2.0","id":9007199254740995,"method":"ping"},{"jsonrpc":"2.0","id":7,"method":"ping"}]`,
  );
  const batchText = await batch.text();
  assert.match(batchText, /"id":9007199254740995[,}]/);
  assert.match(batchText, /"id":7[,}]/);
  const messages = JSON.parse(batchText) as JsonRpcMessage[];
  assert.equal(messages.length, 2);
});
