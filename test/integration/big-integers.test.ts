/**
 * Ids beyond 2^53 through a real sidecar in front of server-everything, legacy session and
 * modern (2026-07-28) alike: they come back as the digits the client sent, and text that spells the sidecar's
 * internal mark (inside a string, or as a client's own string id) comes back untouched. The wire text is read
 * raw: JSON.parse on the client side would itself round the numbers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, session } from '../support/harness.js';
import { meta, MODERN } from '../support/modern-post.js';
import { everythingCommand, type JsonRpcMessage } from '../support/sidecar-process.js';

const BIG = '99999999999999999999';
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

test('server-everything: big ids, a mark inside a string and a look-alike string id', async (t) => {
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
});
