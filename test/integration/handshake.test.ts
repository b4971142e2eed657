/**
 * The handshake and the server's profile: tools/list is followed over every nextCursor page before the sidecar
 * is READY, GET /tools serves the whole list, and each client's initialize is answered from the cached profile
 * in the protocol version it asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, rest, session, SseReader, textOf } from '../support/harness.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

const STANDARD = ['echo', 'pid', 'add', 'fail', 'slow', 'cancellations', 'notify-later', 'grow', 'sample'];

test('tools/list over several pages: READY only with all of them, GET /tools lists every page, MCP pages through the server', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools', '--page-size', '4', '--fillers', '12')]);
  const expected = [...STANDARD, ...Array.from({ length: 12 }, (_, i) => `filler-${String(i + 1).padStart(2, '0')}`)];

  assert.equal(sidecar.readyBody?.status, 'ready');
  assert.equal(sidecar.readyBody?.worker.state, 'ready');
  assert.equal(typeof sidecar.readyBody?.worker.pid, 'number');
  assert.match(sidecar.logs(), /READY: paged-tools 1\.0\.0 handshaken with 21 tools/);

  const res = await fetch(`${sidecar.url}/tools`);
  assert.equal(res.status, 200);
  const { tools } = (await res.json()) as { tools: Array<{ name: string; inputSchema: unknown }> };
  assert.deepEqual(
    tools.map((tool) => tool.name),
    expected,
    'all 6 pages, in order, none twice',
  );
  assert.deepEqual(tools.find((tool) => tool.name === 'add')?.inputSchema, {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  });

  // An MCP client pages itself: the cursor travels to the server and back untouched.
  const client = await session(t, sidecar.url);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const response = await client.request('tools/list', cursor ? { cursor } : undefined);
    assert.ok(response.result, JSON.stringify(response));
    seen.push(...response.result.tools.map((tool: { name: string }) => tool.name));
    cursor = response.result.nextCursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, expected);
  const badCursor = await client.request('tools/list', { cursor: 'not-a-cursor' });
  assert.equal(badCursor.error?.code, -32602, "the server's own error reaches the client");
});

test('initialize is answered from the profile, in the version each client speaks', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  for (const version of ['2025-11-25', '2025-06-18', '2025-03-26']) {
    const client = await session(t, sidecar.url, {}, version);
    assert.equal(client.protocolVersion, version);
    assert.ok(client.sessionId?.length, 'a session id was issued');
    assert.equal(textOf(await callTool(client, 'echo', { version })), JSON.stringify({ version }));
  }
  const res = await fetch(`${sidecar.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2030-01-01', capabilities: {}, clientInfo: { name: 'future', version: '9' } },
    }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, any>;
  assert.equal(body.id, 'init');
  assert.equal(body.result.protocolVersion, '2025-11-25', 'an unknown version gets our latest; the client decides');
  assert.deepEqual(body.result.serverInfo, { name: 'paged-tools', version: '1.0.0' });
  assert.ok(body.result.capabilities.tools);
});

test('tools that change at run time: the profile is re-read, GET /tools and REST follow, sessions are told', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const stream = await SseReader.open(sidecar.url, client.headers());
  t.after(() => stream.close());
  assert.equal((await rest(sidecar.url, 'grown-tool', {})).status, 404);
  assert.equal(textOf(await callTool(client, 'grow', { name: 'grown-tool' })), 'added grown-tool');
  const tools = await waitFor(
    async () => {
      const { tools } = (await (await fetch(`${sidecar.url}/tools`)).json()) as { tools: Array<{ name: string }> };
      return tools.some((tool) => tool.name === 'grown-tool') ? tools : undefined;
    },
    5000,
    'GET /tools to list the new tool',
  );
  assert.equal(tools.length, 23, '9 standard tools, 13 fillers and the new one');
  assert.equal((await rest(sidecar.url, 'grown-tool', {})).body.content[0].text, 'I am grown-tool');
  const [changed] = await stream.waitForCount(1, 3000);
  assert.equal(changed.data.method, 'notifications/tools/list_changed');
  // The server's own notification is forwarded; the sidecar must not add a second one of its own. A ping
  // round trip after it orders the check behind anything the sidecar could still have queued.
  await client.request('ping');
  assert.equal(
    stream.events.filter((e) => e.data.method === 'notifications/tools/list_changed').length,
    1,
    'exactly one list_changed per change',
  );
  assert.match(sidecar.logs(), /tool list changed; telling registries/);
});

test("initialize: a session keeps at most 64 KiB of the client's capabilities and client info; more is refused with why", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const open = (name: string) =>
    fetch(`${sidecar.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' } },
      }),
    });
  const big = await open('x'.repeat(70_000));
  assert.equal(big.headers.get('mcp-session-id'), null, 'no session was opened');
  const body = (await big.json()) as { error?: { code: number; message: string } };
  assert.equal(body.error?.code, -32602);
  assert.match(body.error!.message, /take 70027 bytes as JSON; a session keeps at most 65536 of them/);
  // Counted in bytes: 30,000 three-byte characters are 90,000 bytes (and 30,000 UTF-16 units).
  const wide = await open('世'.repeat(30_000));
  assert.equal(wide.headers.get('mcp-session-id'), null);
  assert.match(((await wide.json()) as { error: { message: string } }).error.message, /take 90027 bytes as JSON/);
  const fits = await open('x'.repeat(60_000));
  assert.ok(fits.headers.get('mcp-session-id'), 'a large but bounded client info is fine');
  await fits.body?.cancel();
});
