/**
 * Multi Round-Trip Requests (MCP 2026-07-28) bridged to a legacy stdio server: the server asks mid-call with
 * elicitation/create, the modern client gets an InputRequiredResult and retries with inputResponses. The official
 * client does it on its own; the raw tests check the requestState (tampered, replayed, another request or caller,
 * another replica), the cap on waiting calls, and the cancellation of a call whose client never retries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, metric, secretFile, textOf } from '../support/harness.js';
import { MODERN, modern } from '../support/modern-post.js';
import { ALICE, ask, CAN_ELICIT, ELICIT, elicitingClient, retry } from '../support/mrtr-calls.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

test('the official client pinned to 2026-07-28 with an elicitation handler completes tool calls that ask for input, one round and two', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('conformance-server')]);
  const { client, asked } = await elicitingClient(t, sidecar.url);
  assert.equal(client.getNegotiatedProtocolVersion(), MODERN);

  const one = await client.callTool({ name: ELICIT, arguments: {} });
  assert.equal((one.content as Array<{ text: string }>)[0].text, 'Hello, Alice!');
  const two = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
  assert.equal((two.content as Array<{ text: string }>)[0].text, 'Alice likes blue');
  assert.deepEqual(asked, ['What is your name?', 'Step 1: What is your name?', 'Step 2: What is your favorite color?']);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 0);
});

test('answers sent ahead with the first request (no requestState): the server is answered from them, one round trip', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('conformance-server')]);
  const params = { name: ELICIT, arguments: {}, inputResponses: { user_name: ALICE }, ...CAN_ELICIT };
  const ahead = await modern(sidecar.url, 'tools/call', params);
  assert.equal(textOf(ahead.response!), 'Hello, Alice!', JSON.stringify(ahead.response));
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 0);
  // Without them, the same call asks (the answer above did not come from anywhere else).
  const { inputRequests } = await ask(sidecar.url);
  assert.deepEqual(Object.keys(inputRequests), ['user_name']);
});

test('a client that never retries: after --input-wait the server request gets an error and the call is cancelled, and nothing is left pending', async (t) => {
  const sidecar = await launch(t, ['--input-wait', '1s', '--', ...fixtureCommand('conformance-server')]);
  const { inputRequests } = await ask(sidecar.url);
  assert.deepEqual(Object.keys(inputRequests), ['user_name']);
  assert.equal(inputRequests.user_name.method, 'elicitation/create');
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 1);

  // The sidecar sends the error, then notifications/cancelled; the fixture reports both, but its two stderr lines
  // may reach the sidecar's log in two reads: both are waited for.
  await waitFor(
    () => (/the call was cancelled/.test(sidecar.logs()) && /the elicitation failed/.test(sidecar.logs())) || undefined,
    5_000,
    'the server call to be cancelled',
  );
  const logs = sidecar.logs();
  assert.match(logs, /fixture: the elicitation failed: MCP error -32004: mcp-sidecar: the client did not retry/);
  assert.match(logs, /did not retry with inputResponses within --input-wait/);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 0);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { outcome: 'cancelled' }), 1);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0);
});

test('requestState: tampered, another request, another caller or a replayed round is -32602 and leaves the waiting call as it was', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('conformance-server')]);
  const caller = { authorization: 'Bearer one' };
  const { requestState } = await ask(sidecar.url, caller);
  const refusals = [
    [await retry(sidecar.url, `${requestState}-TAMPERED`, caller), /integrity check/],
    [await retry(sidecar.url, requestState, caller, { extra: 1 }), /issued for another request/],
    [await retry(sidecar.url, requestState, { authorization: 'Bearer two' }), /issued to another caller/],
    [await retry(sidecar.url, requestState, {}), /issued to another caller/],
  ] as const;
  for (const [answer, why] of refusals) {
    assert.equal(answer.response!.error?.code, -32602, JSON.stringify(answer.response));
    assert.match(answer.response!.error.message, why);
  }
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 1, 'the waiting call is untouched');
  const done = await retry(sidecar.url, requestState, caller);
  assert.equal(textOf(done.response!), 'Hello, Alice!');
  const replay = await retry(sidecar.url, requestState, caller);
  assert.equal(replay.response!.error?.code, -32602);
  assert.match(replay.response!.error.message, /no longer waiting/);

  // Missing responses: the same question again, under the same key; extra ones are ignored.
  const again = await ask(sidecar.url);
  const params = { name: ELICIT, arguments: {}, inputResponses: { other: ALICE }, requestState: again.requestState };
  const asked = await modern(sidecar.url, 'tools/call', { ...params, ...CAN_ELICIT }, {}, 3);
  assert.equal(asked.response!.result.resultType, 'input_required');
  assert.deepEqual(Object.keys(asked.response!.result.inputRequests), ['user_name']);
  assert.equal(textOf((await retry(sidecar.url, asked.response!.result.requestState)).response!), 'Hello, Alice!');
  const stale = await retry(sidecar.url, again.requestState);
  assert.match(stale.response!.error.message, /no longer waiting|earlier round/);

  const invalid = await modern(sidecar.url, 'tools/call', { name: ELICIT, inputResponses: { user_name: 5 } });
  assert.equal(invalid.response!.error.code, -32602);
  assert.match(invalid.response!.error.message, /inputResponses\["user_name"\] must be the result object/);
});

test('replicas sharing --state-key-file without Consul: a retry at the replica that does not hold the call names the owner and says the call is lost there; past --max-pending-input, 503', async (t) => {
  const common = [
    '--state-key-file',
    secretFile(t, 'k'.repeat(40)),
    '--max-pending-input',
    '1',
    '--',
    ...fixtureCommand('conformance-server'),
  ];
  const [a, b] = [await launch(t, common), await launch(t, common)];
  const { requestState } = await ask(a.url);
  const elsewhere = await retry(b.url, requestState);
  assert.equal(elsewhere.response!.error.code, -32602);
  assert.match(
    elsewhere.response!.error.message,
    /belongs to a call waiting at mcp-sidecar instance "[^"]+", and this instance cannot reach it: .* no --consul; the call waiting for this input is lost: send the request again without requestState/,
  );
  assert.ok(elsewhere.response!.error.data.owner, 'the owner is named in data');
  assert.equal(await metric(b.url, 'mcp_sidecar_mrtr_forwards_total', { outcome: 'no_consul' }), 1);

  const full = await modern(a.url, 'tools/call', { name: ELICIT, arguments: {}, ...CAN_ELICIT }, {}, 7);
  assert.equal(full.status, 503);
  assert.match(full.response!.error.message, /--max-pending-input 1/);
  assert.equal(textOf((await retry(a.url, requestState)).response!), 'Hello, Alice!');
});

test('a call parked for input is not timed out by --request-timeout: that counts at the server, --input-wait at the client', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '1s', '--', ...fixtureCommand('conformance-server')]);
  const { requestState } = await ask(sidecar.url);
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // past --request-timeout and the sweep after it
  assert.equal(textOf((await retry(sidecar.url, requestState)).response!), 'Hello, Alice!');
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { outcome: 'timeout' }), Number.NaN);
});

test('a server that answers while its call waits for the retry: the retry gets that answer', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const params = { name: 'impatient', arguments: { ms: 200 }, ...CAN_ELICIT };
  const first = await modern(sidecar.url, 'tools/call', params);
  const result = first.response!.result;
  assert.equal(result?.resultType, 'input_required', JSON.stringify(first.response));
  await waitFor(async () => (await metric(sidecar.url, 'mcp_sidecar_input_pending')) === 1, 3000, 'the call parked');
  await new Promise((resolve) => setTimeout(resolve, 500)); // the server answers meanwhile (after 200 ms)
  const [key] = Object.keys(result.inputRequests);
  const second = await modern(
    sidecar.url,
    'tools/call',
    { ...params, inputResponses: { [key]: ALICE }, requestState: result.requestState },
    {},
    2,
  );
  assert.equal(second.response?.id, 2);
  assert.equal(textOf(second.response!), 'answered without the input');
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 0);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0);
});

// In 2026-07-28 every request carries its own _meta: the retry that takes a parked call over is a new request, and
// what reaches it (log lines, progress, the server's next questions) follows what it declares, not the first leg.
const LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';

/** `ask-log-ask` with `args`: the first leg with `firstMeta`, then the retry answering user_name with `retryMeta`. */
async function askThenRetry(
  url: string,
  args: Record<string, unknown>,
  firstMeta: Record<string, unknown>,
  retryMeta: Record<string, unknown>,
  responses: Record<string, unknown> = { user_name: ALICE },
) {
  const params = { name: 'ask-log-ask', arguments: args };
  const first = await modern(url, 'tools/call', { ...params, _meta: firstMeta });
  const { resultType, requestState } = first.response!.result;
  assert.equal(resultType, 'input_required', JSON.stringify(first.response));
  const retried = { ...params, inputResponses: responses, requestState, _meta: retryMeta };
  const second = await modern(url, 'tools/call', retried, {}, 2);
  const of = (method: string) => second.messages.filter((m) => m.method === method).map((m) => m.params);
  return { ...second, logs: of('notifications/message').map((p) => p.data), progress: of('notifications/progress') };
}

test("a retry that takes a call over gets the call's log lines at its own logLevel (none without one) and progress under its own token (none without one)", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const args = { levels: ['debug', 'info', 'warning', 'error'] };
  const first = { ...CAN_ELICIT._meta, [LOG_LEVEL]: 'debug', progressToken: 'first' };

  const raised = await askThenRetry(sidecar.url, args, first, {
    ...CAN_ELICIT._meta,
    [LOG_LEVEL]: 'warning',
    progressToken: 'retry',
  });
  assert.equal(textOf(raised.response!), 'Hello, Alice!');
  assert.deepEqual(raised.logs, ['warning', 'error']);
  assert.deepEqual(
    raised.progress.map((p) => p.progressToken),
    ['retry'],
  );

  const silent = await askThenRetry(sidecar.url, args, first, CAN_ELICIT._meta);
  assert.equal(textOf(silent.response!), 'Hello, Alice!');
  assert.deepEqual(silent.logs, [], 'a retry without logLevel asked for no log lines');
  assert.deepEqual(silent.progress, [], 'a retry without progressToken asked for no progress');

  const lowered = await askThenRetry(sidecar.url, args, CAN_ELICIT._meta, { ...CAN_ELICIT._meta, [LOG_LEVEL]: 'info' });
  assert.deepEqual(lowered.logs, ['info', 'warning', 'error']);
});

test("a retry that takes a call over: the server's next requests are checked against the retry's clientCapabilities", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const both = { [CAPABILITIES]: { elicitation: {}, sampling: {} } };
  const args = { then: 'sampling/createMessage' };

  // Declared by the first leg, not by the retry: the sampling request fails the retry with -32021.
  const dropped = await askThenRetry(sidecar.url, args, both, CAN_ELICIT._meta);
  assert.equal(dropped.status, 400);
  assert.equal(dropped.response!.error?.code, -32021, JSON.stringify(dropped.response));
  assert.deepEqual(dropped.response!.error.data, { requiredCapabilities: { sampling: {} } });

  // Declared by the retry alone: the sampling request is the retry's next round.
  const added = await askThenRetry(sidecar.url, args, CAN_ELICIT._meta, both);
  assert.equal(added.response!.result?.resultType, 'input_required', JSON.stringify(added.response));
  assert.deepEqual(Object.keys(added.response!.result.inputRequests), ['then']);
  const sampled = { role: 'assistant', content: { type: 'text', text: 'blue' }, model: 'm' };
  const params = { name: 'ask-log-ask', arguments: args, _meta: both };
  const last = await modern(
    sidecar.url,
    'tools/call',
    { ...params, inputResponses: { then: sampled }, requestState: added.response!.result.requestState },
    {},
    3,
  );
  assert.match(textOf(last.response!), /^Hello, Alice! then: .*"blue"/);

  // A retry that leaves the elicitation unanswered and no longer declares it is not asked for it again.
  const undeclared = await askThenRetry(sidecar.url, {}, CAN_ELICIT._meta, { [CAPABILITIES]: {} }, {});
  assert.equal(undeclared.response!.error?.code, -32021, JSON.stringify(undeclared.response));
  assert.deepEqual(undeclared.response!.error.data, { requiredCapabilities: { elicitation: {} } });
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_input_pending'), 0);
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0);
});

test('progress a server reports while its call waits for the retry reaches no one and does not restart --request-timeout', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '1s', '--', ...fixtureCommand('fault-tools')]);
  const params = { name: 'ask-log-ask', arguments: {}, _meta: { ...CAN_ELICIT._meta, progressToken: 'first' } };
  const first = await modern(sidecar.url, 'tools/call', params);
  const { requestState } = first.response!.result;
  assert.ok(requestState, JSON.stringify(first.response));
  const beat = { name: 'progress-values', arguments: { of: 'waiting', params: ['"progress":0.5'] } };
  assert.equal(textOf((await modern(sidecar.url, 'tools/call', beat, {}, 9)).response!), 'wrote 1');
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // past --request-timeout and the sweep after it
  const retried = { ...params, inputResponses: { user_name: ALICE }, requestState };
  const done = await modern(sidecar.url, 'tools/call', retried, {}, 2);
  assert.equal(textOf(done.response!), 'Hello, Alice!', JSON.stringify(done.response));
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total', { outcome: 'timeout' }), Number.NaN);
});
