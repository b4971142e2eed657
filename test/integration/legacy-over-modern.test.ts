/**
 * A legacy client (2025-11-25 session) of a modern-only stdio server, through the sidecar's translation
 * (legacy-over-modern.ts), on the real modern fixture: the server sees the session's client in every request's
 * `_meta`; ping and logging/setLevel are the sidecar's; results carry no 2026-07-28-only fields; an
 * InputRequiredResult over two rounds reaches the client as two elicitation/create requests within one ordinary
 * call; resources/subscribe becomes the sidecar's listen at the server, whose updates reach the session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, session, SseReader, textOf } from '../support/harness.js';
import { fixtureCommand, type JsonRpcMessage } from '../support/sidecar-process.js';

const WATCHED = 'test://watched-resource';

test('the server sees the session in _meta; ping and setLevel are answered by the sidecar; results are legacy', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('modern-conformance-server')]);
  const client = await session(t, sidecar.url, { elicitation: {} });
  const envelope = async () => {
    const response = await client.request('tools/call', { name: 'test_envelope', arguments: {} });
    assert.equal(response.result.resultType, undefined, 'no resultType for a legacy client');
    assert.equal(response.result._meta, undefined, "no server identity in _meta (the revision's only)");
    return JSON.parse(textOf(response)) as Record<string, unknown>;
  };
  assert.deepEqual(await envelope(), {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
    'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
    'io.modelcontextprotocol/logLevel': 'debug',
  });
  assert.deepEqual((await client.request('ping')).result, {}, 'ping answered (the server has none)');
  assert.deepEqual((await client.request('logging/setLevel', { level: 'error' })).result, {});
  assert.equal((await envelope())['io.modelcontextprotocol/logLevel'], 'error', 'the level rides on later requests');
  const invalid = await client.request('logging/setLevel', { level: 'loud' });
  assert.equal(invalid.error?.code, -32602);
  const listed = await client.request('tools/list');
  assert.equal(listed.result.ttlMs, undefined);
  assert.equal(listed.result.cacheScope, undefined);
  assert.ok(listed.result.tools.some((tool: { name: string }) => tool.name === 'test_envelope'));
});

test('an InputRequiredResult over two rounds is one ordinary call: two elicitation/create requests on its stream', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('modern-conformance-server')]);
  const client = await session(t, sidecar.url, { elicitation: {} });
  const asked: JsonRpcMessage[] = [];
  const answers = [{ name: 'Ada' }, { color: 'green' }];
  const response = await client.request(
    'tools/call',
    { name: 'test_input_required_result_multi_round', arguments: {} },
    {
      onMessage: (m) => {
        if (m.method !== 'elicitation/create') return;
        asked.push(m);
        void client.respond(m.id, { action: 'accept', content: answers[asked.length - 1] });
      },
    },
  );
  assert.equal(textOf(response), 'Ada likes green');
  assert.deepEqual(
    asked.map((m) => m.params.message),
    ['Step 1: What is your name?', 'Step 2: What is your favorite color?'],
  );
  assert.equal(response.result.resultType, undefined);

  // A client that did not declare sampling: the server asks for nothing it cannot give (it reads the envelope).
  const plain = await session(t, sidecar.url, {});
  const refused = await plain.request('tools/call', { name: 'test_sampling', arguments: { prompt: 'hi' } });
  assert.ok(refused.error || refused.result?.isError, `refused: ${JSON.stringify(refused)}`);
});

test('resources/subscribe becomes the listen at the server: updates reach the subscribed session, stop after unsubscribe', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('modern-conformance-server', '--watch-interval-ms', '150')]);
  const client = await session(t, sidecar.url, {});
  const stream = await SseReader.open(sidecar.url, client.headers());
  t.after(() => stream.close());
  assert.equal(stream.status, 200);
  const updates = () =>
    stream.events
      .map((e) => e.data as JsonRpcMessage | undefined)
      .filter((m) => m?.method === 'notifications/resources/updated' && m.params?.uri === WATCHED);
  assert.deepEqual((await client.request('resources/subscribe', { uri: WATCHED })).result, {});
  for (let i = 0; i < 40 && updates().length < 2; i++) await stream.waitForCount(stream.events.length + 1, 2000);
  assert.ok(updates().length >= 2, `updates arrived: ${JSON.stringify(stream.events.slice(-3))}`);
  assert.equal(updates()[0]!.params._meta, undefined, "the sidecar's subscription id is not the client's");
  assert.deepEqual((await client.request('resources/unsubscribe', { uri: WATCHED })).result, {});
  await new Promise((resolve) => setTimeout(resolve, 300)); // an update already on its way may still arrive
  const settled = updates().length;
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(updates().length, settled, 'no updates after the last unsubscribe');
});

test('while the client is asked for input: its cancellation ends the rounds, and --request-timeout fails the call', async (t) => {
  const sidecar = await launch(t, [
    ...['--request-timeout', '1s', '--', ...fixtureCommand('modern-conformance-server')],
  ]);
  const client = await session(t, sidecar.url, { elicitation: {} });
  const seen: JsonRpcMessage[] = [];
  const timedOut = await client.request(
    'tools/call',
    { name: 'test_input_required_result_elicitation', arguments: {} },
    { id: 'never-answered', onMessage: (m) => seen.push(m) },
  );
  assert.equal(timedOut.error?.code, -32001, JSON.stringify(timedOut));
  const ask = seen.find((m) => m.method === 'elicitation/create');
  assert.ok(ask, 'the client was asked');
  assert.ok(
    seen.some((m) => m.method === 'notifications/cancelled' && m.params?.requestId === ask.id),
    `the ask was withdrawn: ${JSON.stringify(seen)}`,
  );

  const asked: JsonRpcMessage[] = [];
  const cancelled = client.request(
    'tools/call',
    { name: 'test_input_required_result_elicitation', arguments: {} },
    {
      id: 'cancelled',
      onMessage: (m) => {
        if (m.method !== 'elicitation/create') return;
        asked.push(m);
        void client.notify('notifications/cancelled', { requestId: 'cancelled', reason: 'user gave up' });
      },
    },
  );
  await assert.rejects(cancelled, /stream ended without a response/);
  assert.equal(asked.length, 1);
  // The session goes on: the next call is answered.
  assert.equal(
    textOf(await client.request('tools/call', { name: 'test_simple_text', arguments: {} })),
    'This is a simple text response for testing.',
  );
});
