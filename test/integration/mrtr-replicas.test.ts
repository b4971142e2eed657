/**
 * Multi Round-Trip Requests across replicas (issue 12 §1, "replicas"): two sidecars of one service, registered in
 * one real Consul agent, sharing --state-key-file and a bearer token, behind a round-robin gateway on loopback.
 * The retry that lands on the replica which does not hold the call is forwarded to the owner Consul lists; what
 * cannot be forwarded (a tampered state, a request already forwarded, an owner gone) is refused with the reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, startConsulAgent, type ConsulAgent } from '../support/consul-agent.js';
import { serviceIdOf, sidecarWithConsul, uniqueName } from '../support/consul-sidecar.js';
import { callerDigest, paramsDigest, RequestStateSeal } from '../../sidecar/mcp/request-state.js';
import { launch, metric, secretFile, sleep, textOf } from '../support/harness.js';
import { modern } from '../support/modern-post.js';
import { ALICE, ask, CAN_ELICIT, ELICIT, elicitingClient, retry } from '../support/mrtr-calls.js';
import { roundRobinProxy } from '../support/round-robin-proxy.js';
import { fixtureCommand, waitFor, waitForReady } from '../support/sidecar-process.js';

const KEY = 'a shared key of the replicas, 32 bytes or more';
const ALICE_AUTH = { authorization: 'Bearer alice-token' };
const BOB_AUTH = { authorization: 'Bearer bob-token' };

/** A counter of /metrics, 0 when it has no sample yet. */
async function count(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const value = await metric(url, name, labels);
  return Number.isNaN(value) ? 0 : value;
}

const forwards = (url: string, outcome: string) => count(url, 'mcp_sidecar_mrtr_forwards_total', { outcome });

/**
 * A state as the replicas sign it (the test holds the shared key) for the elicitation call of Alice, naming
 * `owner`, an instance that holds no such call.
 */
function stateOf(owner: string): string {
  const original = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: ELICIT, arguments: {} } };
  return new RequestStateSeal(Buffer.from(KEY)).seal({
    owner,
    handle: 'a-call-of-that-instance',
    round: 0,
    method: 'tools/call',
    digest: paramsDigest(original),
    expires: Date.now() + 60_000,
    caller: callerDigest(`authorization:${ALICE_AUTH.authorization}`),
  });
}

describe('MRTR across replicas registered in one Consul agent', () => {
  let consul: ConsulAgent;

  before(async () => {
    consul = await startConsulAgent();
  });
  after(async () => {
    await consul?.stop();
  });

  test('two replicas behind a round-robin gateway', async (t) => {
    const name = uniqueName('replicas');
    const args = [
      '--state-key-file',
      secretFile(t, KEY),
      '--auth',
      'bearer',
      '--auth-token-file',
      secretFile(t, 'alice-token\nbob-token\n'),
      '--shutdown-grace',
      '2s',
    ];
    const replica = async () => {
      const sidecar = await sidecarWithConsul(t, consul, name, fixtureCommand('conformance-server'), args);
      await waitForReady(sidecar.url);
      return sidecar;
    };
    const passing = async (n: number) =>
      waitFor(
        async () => ((await consul.get(`/v1/health/service/${name}?passing`)).body?.length === n ? true : undefined),
        20_000,
        `${n} passing instances of ${name} in Consul`,
        100,
      );
    const [a, b] = await Promise.all([replica(), replica()]);
    await passing(2);

    await t.test(
      'the official client pinned to 2026-07-28 completes a call that asks for input; its retry lands on the other replica and is forwarded to the owner',
      async (t) => {
        const proxy = await roundRobinProxy(t, [a.url, b.url]);
        const { client, asked } = await elicitingClient(t, proxy.url, ALICE_AUTH);

        const result = await client.callTool({ name: ELICIT, arguments: {} });
        assert.equal((result.content as Array<{ text: string }>)[0].text, 'Hello, Alice!');
        assert.deepEqual(asked, ['What is your name?']);

        const calls = proxy.routed.filter((r) => r.method === 'tools/call');
        assert.deepEqual(
          calls.map((c) => c.retry),
          [false, true],
          'one first request, then one retry with requestState',
        );
        assert.notEqual(calls[0].target, calls[1].target, 'the retry went to the other replica');
        const [owner, other] = calls[0].target === a.url ? [a, b] : [b, a];
        assert.equal(await forwards(other.url, 'forwarded'), 1, 'the replica that got the retry forwarded it');
        assert.equal(await count(owner.url, 'mcp_sidecar_mrtr_forwards_total'), 0, 'the owner forwarded nothing');
        // The owner's server ran the one call, to its end; the other replica's server never saw it.
        const ok = { method: 'tools/call', outcome: 'ok' };
        assert.equal(await count(owner.url, 'mcp_sidecar_rpc_calls_total', ok), 1);
        assert.equal(await count(other.url, 'mcp_sidecar_rpc_calls_total', { method: 'tools/call' }), 0);
        assert.equal(await metric(owner.url, 'mcp_sidecar_input_pending'), 0);
      },
    );

    await t.test(
      'a tampered state, or one of another caller, is refused where it arrives and forwarded nowhere; a forwarded request is not forwarded again; the waiting call is untouched',
      async () => {
        const { requestState } = await ask(a.url, ALICE_AUTH);
        const before = await forwards(b.url, 'forwarded');
        const refusals = [
          [await retry(b.url, `${requestState}x`, ALICE_AUTH), /integrity check/],
          [await retry(b.url, requestState, BOB_AUTH), /issued to another caller/],
          [
            await retry(b.url, requestState, { ...ALICE_AUTH, 'mcp-sidecar-forwarded-by': 'some-replica' }),
            /not at this one .* already forwarded once \(by "some-replica"\): a forwarded request is not forwarded again/,
          ],
        ] as const;
        for (const [answer, why] of refusals) {
          assert.equal(answer.response!.error?.code, -32602, JSON.stringify(answer.response));
          assert.match(answer.response!.error.message, why);
        }
        assert.equal(await forwards(b.url, 'forwarded'), before, 'nothing was forwarded');
        assert.equal(await forwards(b.url, 'not_again'), 1);
        assert.equal(await metric(a.url, 'mcp_sidecar_input_pending'), 1, 'the call still waits at its owner');

        const done = await retry(b.url, requestState, ALICE_AUTH, {}, 3);
        assert.equal(done.response!.id, 3);
        assert.equal(textOf(done.response!), 'Hello, Alice!');
        assert.equal(await forwards(b.url, 'forwarded'), before + 1);
        assert.equal(await metric(a.url, 'mcp_sidecar_input_pending'), 0);
      },
    );

    await t.test(
      'a state whose owner is no longer a passing instance in Consul: the call is lost, and the answer says to start it again without requestState',
      async () => {
        const c = await replica();
        await passing(3);
        const { requestState } = await ask(c.url, ALICE_AUTH);
        await c.stop('SIGTERM'); // deregisters, then stops
        const lost = await retry(b.url, requestState, ALICE_AUTH);
        assert.equal(lost.response!.error?.code, -32602, JSON.stringify(lost.response));
        assert.match(
          lost.response!.error.message,
          new RegExp(
            `which Consul does not list as a passing instance of service "${name}" .*; the call waiting for this input is lost: send the request again without requestState`,
          ),
        );
        assert.ok(lost.response!.error.data.owner.startsWith(`${name}-127.0.0.1-`), 'the owner is named in data');
        assert.equal(await forwards(b.url, 'owner_gone'), 1);
      },
    );
    await t.test(
      'an owner Consul lists as passing but that does not answer: the call is lost; an owner whose address now serves another replica: that one does not forward it again',
      async (t) => {
        // Real registrations in the real agent, passing: one where nothing listens, one at replica a's address.
        const register = async (id: string, port: number) => {
          const check = { CheckID: `${id}:ttl`, TTL: '60s', Status: 'passing' };
          const r = await consul.put('/v1/agent/service/register', {
            ID: id,
            Name: name,
            Address: '127.0.0.1',
            Port: port,
            Check: check,
          });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          t.after(() => consul.put(`/v1/agent/service/deregister/${id}`));
        };
        await register(`${name}-silent`, await freePort());
        await register(`${name}-moved`, Number(new URL(a.url).port));
        await passing(4);
        await sleep(1100); // past b's cache of Consul's answer, which the previous test filled

        const silent = await retry(b.url, stateOf(`${name}-silent`), ALICE_AUTH);
        assert.equal(silent.response!.error?.code, -32602, JSON.stringify(silent.response));
        assert.match(
          silent.response!.error.message,
          /which did not answer \(ECONNREFUSED.*\); the call waiting for this input is lost: send the request again without requestState/,
        );
        assert.equal(await forwards(b.url, 'owner_unreachable'), 1);

        const [forwardedBefore, notAgainBefore] = [
          await forwards(b.url, 'forwarded'),
          await forwards(a.url, 'not_again'),
        ];
        const moved = await retry(b.url, stateOf(`${name}-moved`), ALICE_AUTH);
        assert.equal(moved.response!.error?.code, -32602, JSON.stringify(moved.response));
        assert.match(
          moved.response!.error.message,
          new RegExp(
            `already forwarded once \\(by "${serviceIdOf(name, b.url)}"\\): a forwarded request is not forwarded again`,
          ),
        );
        assert.equal(await forwards(b.url, 'forwarded'), forwardedBefore + 1, 'b forwarded it, to a');
        assert.equal(await forwards(a.url, 'not_again'), notAgainBefore + 1, 'a refused to forward it again');
      },
    );
  });
  test('a forwarded retry answered with progress streams back as SSE, and closing that stream cancels the call at the owner', async (t) => {
    const name = uniqueName('replicas-sse');
    const args = ['--state-key-file', secretFile(t, KEY), '--shutdown-grace', '2s'];
    const replica = async () => {
      const sidecar = await sidecarWithConsul(t, consul, name, fixtureCommand('fault-tools'), args);
      await waitForReady(sidecar.url);
      return sidecar;
    };
    const [owner, other] = await Promise.all([replica(), replica()]);
    await waitFor(
      async () => ((await consul.get(`/v1/health/service/${name}?passing`)).body?.length === 2 ? true : undefined),
      20_000,
      `2 passing instances of ${name} in Consul`,
      100,
    );
    const call = (steps: number, progressToken: string) => ({
      name: 'ask-then-progress',
      arguments: { steps },
      _meta: { ...CAN_ELICIT._meta, progressToken },
    });
    const first = async (steps: number, id: number) => {
      const { response } = await modern(owner.url, 'tools/call', call(steps, `first-${id}`), {}, id);
      assert.equal(response!.result?.resultType, 'input_required', JSON.stringify(response));
      assert.deepEqual(Object.keys(response!.result.inputRequests), ['user_name']);
      return { inputResponses: { user_name: ALICE }, requestState: response!.result.requestState as string };
    };

    const answers = await first(2, 1);
    const retried = await modern(other.url, 'tools/call', { ...call(2, 'retry'), ...answers }, {}, 2);
    assert.equal(retried.headers.get('content-type'), 'text/event-stream');
    const progress = retried.messages.filter((m) => m.method === 'notifications/progress');
    assert.deepEqual(
      progress.map((m) => [m.params.progressToken, m.params.progress]),
      [
        ['retry', 1],
        ['retry', 2],
      ],
    );
    assert.equal(retried.response!.id, 2);
    assert.equal(textOf(retried.response!), 'Hello, Alice!');
    assert.equal(await forwards(other.url, 'forwarded'), 1);

    // 100 steps of 50 ms: the client goes after the first progress event, long before the call could end.
    const long = await first(100, 3);
    const abort = new AbortController();
    const onMessage = (m: { method?: string }) => m.method === 'notifications/progress' && abort.abort();
    await assert.rejects(
      modern(other.url, 'tools/call', { ...call(100, 'going'), ...long }, {}, 4, { signal: abort.signal, onMessage }),
      { name: 'AbortError' },
    );
    await waitFor(
      async () => (await count(owner.url, 'mcp_sidecar_rpc_calls_total', { outcome: 'cancelled' })) === 1 || undefined,
      3_000,
      'the call cancelled at the owner',
    );
    assert.equal(await count(owner.url, 'mcp_sidecar_rpc_calls_total', { method: 'tools/call', outcome: 'ok' }), 1);
    assert.equal(await forwards(other.url, 'forwarded'), 2);
  });
});

test('Consul not answering: the retry is refused with 503 and -32002, to be sent again in a moment', async (t) => {
  const deadAgent = `http://127.0.0.1:${await freePort()}`;
  const args = ['--consul', deadAgent, '--state-key-file', secretFile(t, KEY), '--forward-timeout', '1s'];
  const sidecar = await launch(t, [...args, '--', ...fixtureCommand('conformance-server')]);
  const answer = await retry(sidecar.url, stateOf('another-replica'), ALICE_AUTH);
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get('retry-after'), '1');
  assert.equal(answer.response!.error?.code, -32002, JSON.stringify(answer.response));
  assert.match(
    answer.response!.error.message,
    /waiting at mcp-sidecar instance "another-replica", and Consul could not be asked where it is \(GET .*ECONNREFUSED.*\); retry shortly/,
  );
  assert.equal(await forwards(sidecar.url, 'consul_unreachable'), 1);
});
