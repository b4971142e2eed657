/**
 * Session lifecycle and streams: the GET SSE stream carries session-wide messages with event ids, a client
 * that lost a stream resumes it with Last-Event-ID (a POST's stream too), idle sessions are reaped, DELETE
 * ends a session, and a server→client request is refused for a client that did not declare the capability.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, session, sleep, SseReader, textOf } from '../support/harness.js';
import { fixtureCommand, McpHttpClient, readyz, waitFor } from '../support/sidecar-process.js';

const n = (e: { data: any }) => e.data.params?.data?.n;

test('GET stream: session-wide messages with event ids, one stream per session, Last-Event-ID replays what was missed', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const stream = await SseReader.open(sidecar.url, client.headers());
  t.after(() => stream.close());
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get('content-type'), 'text/event-stream');
  assert.equal(stream.headers.get('x-accel-buffering'), 'no', 'proxies must not buffer the stream');
  assert.match(stream.headers.get('cache-control') ?? '', /no-cache/);

  const second = await SseReader.open(sidecar.url, client.headers());
  assert.equal(second.status, 409, 'only one GET stream per session');

  // Six log notifications, 100 ms apart, after the call has been answered: they belong to no request.
  assert.equal(textOf(await callTool(client, 'notify-later', { count: 6, intervalMs: 100 })), 'sending 6');
  const firstTwo = await stream.waitForCount(2, 3000);
  assert.deepEqual(firstTwo.map(n), [1, 2]);
  assert.equal(firstTwo[0].data.method, 'notifications/message');
  assert.ok(
    firstTwo.every((e) => e.id && /^\d+_\d+$/.test(e.id)),
    JSON.stringify(firstTwo),
  );
  await stream.close(); // the client loses its stream; the rest is sent meanwhile

  // A fixed wait: the server sends the other four on its own schedule (100 ms apart), and nothing outside the
  // session shows when it has; after 700 ms all four were sent while no stream was open, so they must be replayed.
  await sleep(700);
  const resumed = await SseReader.open(sidecar.url, { ...client.headers(), 'last-event-id': firstTwo[1].id! });
  t.after(() => resumed.close());
  assert.equal(resumed.status, 200);
  const replayed = await resumed.waitForCount(4, 3000);
  assert.deepEqual(replayed.map(n), [3, 4, 5, 6], 'exactly what was missed, in order');

  // The resumed stream is the live one now.
  await callTool(client, 'notify-later', { count: 1, intervalMs: 10 });
  assert.deepEqual((await resumed.waitForCount(5, 3000)).map(n), [3, 4, 5, 6, 1]);

  // Once the resumed stream is gone too, the session may open a fresh GET stream (not 409 forever).
  await resumed.close();
  const fresh = await waitFor(
    async () => {
      const reader = await SseReader.open(sidecar.url, client.headers());
      if (reader.status === 200) return reader;
      await reader.close();
      return undefined;
    },
    3000,
    'a fresh GET stream after the resumed one closed',
  );
  t.after(() => fresh.close());

  const unknown = await SseReader.open(sidecar.url, { ...client.headers(), 'last-event-id': 'not-an-event' });
  assert.equal(unknown.status, 400);
  assert.match(JSON.parse(unknown.body).error.message, /Last-Event-ID "not-an-event" is not an event of this session/);
});

test('a POST stream lost mid-call is resumed with Last-Event-ID: the rest of the progress and the response', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const call = {
    jsonrpc: '2.0',
    id: 'long',
    method: 'tools/call',
    params: { name: 'slow', arguments: { ms: 800, steps: 4, tag: 'r' }, _meta: { progressToken: 'p' } },
  };
  const post = await SseReader.open(sidecar.url, client.headers(), call);
  assert.equal(post.status, 200);
  const [first] = await post.waitForCount(1, 3000);
  assert.equal(first.data.params.message, 'r 1/4');
  await post.close();

  const resumed = await SseReader.open(sidecar.url, { ...client.headers(), 'last-event-id': first.id! });
  t.after(() => resumed.close());
  assert.equal(resumed.status, 200);
  const rest = await resumed.waitForCount(4, 5000);
  assert.deepEqual(
    rest.slice(0, 3).map((e) => e.data.params.message),
    ['r 2/4', 'r 3/4', 'r 4/4'],
  );
  assert.equal(rest[3].data.id, 'long');
  assert.equal(textOf(rest[3].data), 'done r');
});

test('resuming before the old connection has dropped: the old one closing late does not cut the resumed stream', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const call = {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name: 'slow', arguments: { ms: 600, steps: 3, tag: 'x' }, _meta: { progressToken: 1 } },
  };
  const post = await SseReader.open(sidecar.url, client.headers(), call);
  const [first] = await post.waitForCount(1, 3000);
  const resumed = await SseReader.open(sidecar.url, { ...client.headers(), 'last-event-id': first.id! });
  t.after(() => resumed.close());
  assert.equal(resumed.status, 200);
  await post.close(); // the old connection goes only now
  const rest = await resumed.waitForCount(3, 5000);
  assert.deepEqual(
    rest.slice(0, 2).map((e) => e.data.params.message),
    ['x 2/3', 'x 3/3'],
  );
  assert.equal(textOf(rest[2].data), 'done x');
});

test('SSE keep-alive comments flow on an idle stream', async (t) => {
  const sidecar = await launch(t, ['--keep-alive', '100ms', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const abort = new AbortController();
  const res = await fetch(`${sidecar.url}/mcp`, {
    headers: { ...client.headers(), accept: 'text/event-stream' },
    signal: abort.signal,
  });
  let text = '';
  const reading = (async () => {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString();
  })().catch(() => {});
  await waitFor(() => text.split(': keep-alive').length > 2, 3000, 'two keep-alive comments');
  abort.abort();
  await reading;
});

test('idle sessions are reaped after --session-idle (404 afterwards); a session with an open stream is not idle', async (t) => {
  const sidecar = await launch(t, ['--session-idle', '1s', '--', ...fixtureCommand('paged-tools')]);
  const idle = await session(t, sidecar.url);
  const listening = await session(t, sidecar.url);
  const stream = await SseReader.open(sidecar.url, listening.headers());
  t.after(() => stream.close());
  assert.equal((await readyz(sidecar.url)).body.sessions, 2);

  const started = performance.now();
  await waitFor(async () => (await readyz(sidecar.url)).body.sessions === 1, 6000, 'the idle session to be reaped');
  t.diagnostic(`idle session reaped after ${Math.round(performance.now() - started)} ms (--session-idle 1s)`);
  const gone = await idle.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(gone.status, 404);
  assert.match(await gone.text(), /Session not found/);
  assert.match(sidecar.logs(), /reaping idle session/);
  assert.deepEqual(JSON.parse(textOf(await callTool(listening, 'echo', { still: 'here' }))), { still: 'here' });
});

test('DELETE ends a session: its GET stream closes and later requests get 404', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const stream = await SseReader.open(sidecar.url, client.headers());
  t.after(() => stream.close());
  assert.equal(await client.close(), 200);
  await stream.ended();
  const res = await client.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(res.status, 404);
  await res.text();
  assert.equal((await readyz(sidecar.url)).body.sessions, 0);
});

test('a server→client request reaches the session whose call caused it, and is refused for a client without the capability', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const capable = await session(t, sidecar.url, { sampling: {} });
  const incapable = await session(t, sidecar.url);
  const answered = await capable.request(
    'tools/call',
    { name: 'sample', arguments: { prompt: 'ping?' } },
    {
      onMessage: (m) => {
        if (m.method === 'sampling/createMessage')
          void capable.respond(m.id, { role: 'assistant', content: { type: 'text', text: 'pong' }, model: 'm' });
      },
    },
  );
  assert.equal(JSON.parse(textOf(answered)).content.text, 'pong');
  const refused = JSON.parse(textOf(await callTool(incapable, 'sample', { prompt: 'ping?' })));
  assert.equal(refused.code, -32004);
  assert.match(refused.message, /did not declare the "sampling" capability/);
});

test('--max-sessions: past the limit initialize gets 503 with Retry-After; closing one makes room', async (t) => {
  const sidecar = await launch(t, ['--max-sessions', '2', '--', ...fixtureCommand('paged-tools')]);
  const first = await session(t, sidecar.url);
  await session(t, sidecar.url);
  const third = new McpHttpClient(sidecar.url);
  const refused = await third.post({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  const body = (await refused.json()) as Record<string, any>;
  assert.equal(body.id, 0);
  assert.match(body.error.message, /session limit reached \(2, --max-sessions\)/);
  assert.equal(await first.close(), 200);
  await third.initialize();
  t.after(() => third.close().catch(() => 0));
  assert.ok(third.sessionId);
});
