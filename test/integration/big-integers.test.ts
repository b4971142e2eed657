/**
 * Ids and progress tokens beyond 2^53 through a real sidecar in front of server-everything, legacy session and
 * modern (2026-07-28) alike: they come back as the digits the client sent, and text that spells the sidecar's
 * internal mark (inside a string, or as a client's own string id) comes back untouched. The wire text is read
 * raw: JSON.parse on the client side would itself round the numbers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, metric, session, textOf } from '../support/harness.js';
import { meta, MODERN, modern } from '../support/modern-post.js';
import { CAN_ELICIT } from '../support/mrtr-calls.js';
import { everythingCommand, fixtureCommand, waitFor, type JsonRpcMessage } from '../support/sidecar-process.js';

const BIG = '99999999999999999999';
const TOKEN = '12345678901234567891';
/** The JSON text of a string that holds a quote and then the sidecar's mark, as an attacker sent it. */
const MARKED_MESSAGE = String.raw`"x\"\u0000mcp-sidecar:integer:5"`;
const LOOKALIKE_ID = String.raw`"\u0000mcp-sidecar:integer:7"`;

/** The JSON texts of an answer: the body of a plain JSON answer, or the data of each SSE event. */
function payloads(text: string): string[] {
  if (text.startsWith('{') || text.startsWith('[')) return [text];
  return text
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trim());
}

function parsedAll(texts: string[]): JsonRpcMessage[] {
  return texts.flatMap((text) => {
    const value = JSON.parse(text); // throws on invalid JSON: the first repro's symptom
    return Array.isArray(value) ? value : [value];
  });
}

const call = (id: string, name: string, args: string, extraMeta = '') =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":${args}${extraMeta}}}`;

async function modernPost(url: string, name: string, body: string): Promise<string> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body,
  });
  assert.equal(res.status, 200);
  return res.text();
}

const modernMeta = (extra = '') => `,"_meta":${JSON.stringify(meta()).slice(0, -1)}${extra}}`;

test('server-everything: big ids, a mark inside a string, a look-alike string id, big progress tokens and cancellations', async (t) => {
  const sidecar = await launch(t, ['--', ...everythingCommand()]);
  const client = await session(t, sidecar.url);

  await t.test(
    'the echo of x"<mark> is valid JSON, its text intact, its big id as sent (legacy and modern)',
    async () => {
      const echoed = `Echo: ${JSON.parse(MARKED_MESSAGE)}`;
      const legacyText = await (await client.post(call(BIG, 'echo', `{"message":${MARKED_MESSAGE}}`))).text();
      const modernText = await modernPost(
        sidecar.url,
        'echo',
        call(BIG, 'echo', `{"message":${MARKED_MESSAGE}}`, modernMeta()),
      );
      for (const text of [legacyText, modernText]) {
        const [answer] = parsedAll(payloads(text));
        assert.equal(answer.result.content[0].text, echoed, text);
        assert.match(text, new RegExp(`"id":${BIG}[,}]`), text);
      }
    },
  );

  await t.test(
    'in a batch with a big id, a client string id that spells a mark comes back as that string',
    async () => {
      const batchText = await (
        await client.post(
          `[${call(BIG, 'echo', '{"message":"big"}')},${call(LOOKALIKE_ID, 'echo', '{"message":"lookalike"}')}]`,
        )
      ).text();
      const answers = parsedAll(payloads(batchText));
      const lookalike = answers.find((m) => m.result?.content[0].text === 'Echo: lookalike');
      assert.equal(lookalike?.id, JSON.parse(LOOKALIKE_ID), batchText);
      assert.match(batchText, new RegExp(`"id":${BIG}[,}]`), batchText);
    },
  );

  await t.test('a progress token beyond 2^53 comes back with all its digits (legacy and modern)', async () => {
    const progressArgs = '{"duration":0.2,"steps":2}';
    const legacyProgress = await (
      await client.post(
        call('1', 'trigger-long-running-operation', progressArgs, `,"_meta":{"progressToken":${TOKEN}}`),
      )
    ).text();
    const modernProgress = await modernPost(
      sidecar.url,
      'trigger-long-running-operation',
      call('2', 'trigger-long-running-operation', progressArgs, modernMeta(`,"progressToken":${TOKEN}`)),
    );
    for (const text of [legacyProgress, modernProgress]) {
      const progress = payloads(text).filter((data) => data.includes('"notifications/progress"'));
      assert.equal(progress.length, 2, text);
      for (const data of progress) assert.ok(data.includes(`"progressToken":${TOKEN}`), data);
      assert.match(parsedAll(payloads(text)).at(-1)!.result.content[0].text, /Long running operation completed/);
    }
  });

  await t.test('a cancellation naming a big id finds that request', async () => {
    const abort = new AbortController();
    const slow = client.post(
      call(BIG, 'trigger-long-running-operation', '{"duration":30,"steps":1}'),
      {},
      abort.signal,
    );
    t.after(() => abort.abort());
    await waitFor(
      async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 1,
      5000,
      'the call in flight',
    );
    const cancelled = await client.post(
      `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":${BIG},"reason":"test"}}`,
    );
    assert.equal(cancelled.status, 202);
    await waitFor(
      async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 0,
      3000,
      'the call cancelled',
    );
    abort.abort();
    await slow.catch(() => undefined);
  });
});

test("a server's own request id beyond 2^53 comes back to it with its digits (MRTR answer)", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('big-id-asker')]);
  const first = await modern(sidecar.url, 'tools/call', { name: 'ask', arguments: {}, ...CAN_ELICIT });
  const asked = first.response!.result as { inputRequests: Record<string, unknown>; requestState: string };
  assert.equal(first.response!.result!.resultType, 'input_required', JSON.stringify(first.response));
  const [key] = Object.keys(asked.inputRequests);
  const answered = await modern(
    sidecar.url,
    'tools/call',
    {
      name: 'ask',
      arguments: {},
      inputResponses: { [key]: { action: 'accept', content: {} } },
      requestState: asked.requestState,
      ...CAN_ELICIT,
    },
    {},
    2,
  );
  assert.equal(textOf(answered.response!), 'exact', JSON.stringify(answered.response));
});
