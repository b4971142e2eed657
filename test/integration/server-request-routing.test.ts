/**
 * Sampling and elicitation requests from the server reach the client that caused them, never another one.
 * stdio does not say which client request a server request belongs to: with one caller it is exact, with two
 * callers in flight on a shared process the sidecar refuses (the server gets a JSON-RPC error, its tool an
 * isError result) rather than hand one client's prompt to the other; isolated mode is exact under concurrency.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  fixtureCommand,
  McpHttpClient,
  startSidecar,
  waitFor,
  waitForReady,
  type JsonRpcMessage,
} from '../support/sidecar-process.js';

async function sidecarWithClients(t: TestContext, modeArgs: string[]): Promise<{ a: McpHttpClient; b: McpHttpClient }> {
  const sidecar = await startSidecar([
    '--shutdown-grace',
    '1s',
    ...modeArgs,
    '--',
    ...fixtureCommand('conformance-server'),
  ]);
  t.after(() => sidecar.stop());
  await waitForReady(sidecar.url, 20_000);
  const a = new McpHttpClient(sidecar.url);
  const b = new McpHttpClient(sidecar.url);
  await a.initialize('2025-11-25', { sampling: {}, elicitation: {} });
  await b.initialize('2025-11-25', { sampling: {}, elicitation: {} });
  t.after(() => Promise.all([a.close(), b.close()]).catch(() => {}));
  return { a, b };
}

const SAMPLED = {
  role: 'assistant',
  content: { type: 'text', text: 'sampled for A' },
  model: 'test-model',
  stopReason: 'endTurn',
};

/**
 * B's call stays in flight (its elicitation unanswered) while A calls test_sampling; then B answers.
 * Returns what each client saw.
 */
async function samplingWhileAnotherClientIsInFlight(a: McpHttpClient, b: McpHttpClient) {
  const seenByA: JsonRpcMessage[] = [];
  const seenByB: JsonRpcMessage[] = [];
  let elicitationForB: JsonRpcMessage | undefined;
  const bCall = b.request(
    'tools/call',
    { name: 'test_elicitation', arguments: { message: 'for B' } },
    {
      onMessage: (m) => {
        seenByB.push(m);
        if (m.method === 'elicitation/create') elicitationForB = m;
      },
    },
  );
  await waitFor(() => elicitationForB, 10_000, "B's elicitation request");
  const aResult = await a.request(
    'tools/call',
    { name: 'test_sampling', arguments: { prompt: 'private prompt of A' } },
    {
      onMessage: (m) => {
        seenByA.push(m);
        if (m.method === 'sampling/createMessage') void a.respond(m.id, SAMPLED);
      },
    },
  );
  await b.respond(elicitationForB!.id, { action: 'accept', content: { username: 'b', email: 'b@example.com' } });
  const bResult = await bCall;
  return { aResult, bResult, seenByA, seenByB };
}

test('shared mode: a sampling request is refused, not misrouted, while another client has a request in flight', async (t) => {
  const { a, b } = await sidecarWithClients(t, []);
  const { aResult, bResult, seenByB } = await samplingWhileAnotherClientIsInFlight(a, b);

  assert.deepEqual(
    seenByB.map((m) => m.method),
    ['elicitation/create'],
    'B saw a server request that was not its own',
  );
  assert.equal(aResult.result?.isError, true, `A's sampling should have failed: ${JSON.stringify(aResult)}`);
  assert.match(aResult.result.content[0].text, /in flight.*refused/);
  assert.match(bResult.result?.content?.[0]?.text, /User response: action=accept/);

  // With B idle, A's sampling is unambiguous and goes through.
  const alone = await a.request(
    'tools/call',
    { name: 'test_sampling', arguments: { prompt: 'again' } },
    {
      onMessage: (m) => {
        if (m.method === 'sampling/createMessage') void a.respond(m.id, SAMPLED);
      },
    },
  );
  assert.equal(alone.result?.content?.[0]?.text, 'LLM response: sampled for A');
});

test('isolated mode: concurrent clients each get their own sampling and elicitation requests', async (t) => {
  const { a, b } = await sidecarWithClients(t, ['--session-mode', 'isolated', '--warm', '2']);
  const { aResult, bResult, seenByA, seenByB } = await samplingWhileAnotherClientIsInFlight(a, b);

  assert.deepEqual(
    seenByA.map((m) => m.method),
    ['sampling/createMessage'],
  );
  assert.equal(seenByA[0].params.messages[0].content.text, 'private prompt of A');
  assert.deepEqual(
    seenByB.map((m) => m.method),
    ['elicitation/create'],
  );
  assert.equal(aResult.result?.content?.[0]?.text, 'LLM response: sampled for A');
  assert.match(bResult.result?.content?.[0]?.text, /User response: action=accept/);
});
