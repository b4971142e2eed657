/**
 * Client values given back exactly as they came (big-integers.ts): integer ids, progress tokens and cancelled
 * request ids beyond 2^53, and client strings that look like the sidecar's marks; what anyone wrote elsewhere is
 * never rewritten.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idJson, keepBigIntegers, toJson } from '../../sidecar/mcp/big-integers.js';
import { idKey } from '../../sidecar/mcp/jsonrpc.js';
import { META } from '../../sidecar/mcp/modern.js';

const BIG = '99999999999999999999';
const LOOKALIKE = '\u0000mcp-sidecar:integer:7';

/** What the HTTP layer does with a POST body: parse it, then keep its client values. */
function received(text: string): any[] {
  const body = JSON.parse(text);
  const messages = Array.isArray(body) ? body : [body];
  keepBigIntegers(messages, text);
  return messages;
}

const answer = (id: unknown, result: Record<string, unknown> = { ok: true }) => ({ jsonrpc: '2.0', id, result });

test('an integer id beyond 2^53 goes back out as the digits the client sent', () => {
  for (const digits of [BIG, '-9007199254740993', '123456789012345678901234567890']) {
    const [request] = received(`{"jsonrpc":"2.0","id":${digits},"method":"ping"}`);
    assert.equal(typeof request.id, 'string', 'held as a mark, not as a lossy number');
    assert.equal(toJson(answer(request.id)), `{"jsonrpc":"2.0","id":${digits},"result":{"ok":true}}`);
  }
});

test('text that spells a mark inside a string is never rewritten (repro: echo of x"<mark>)', () => {
  const message = `x"${'\u0000'}mcp-sidecar:integer:5`;
  const [request] = received(
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { arguments: { message } } }).replace(
      '"id":1',
      `"id":${BIG}`,
    ),
  );
  const text = toJson(answer(request.id, { content: [{ type: 'text', text: `Echo: ${message}` }] }));
  const parsed = JSON.parse(text);
  assert.equal(parsed.result.content[0].text, `Echo: ${message}`);
  assert.match(text, new RegExp(`"id":${BIG},`));
  // A whole string value that is exactly a mark, anywhere but a kept place, stays a string too.
  const other = JSON.parse(toJson(answer(request.id, { mark: LOOKALIKE, list: [LOOKALIKE], [LOOKALIKE]: 1 })));
  assert.deepEqual(other.result, { mark: LOOKALIKE, list: [LOOKALIKE], [LOOKALIKE]: 1 });
});

test('a client string id that looks like a mark comes back as that string, next to a big id or alone', () => {
  const batch = received(
    `[{"jsonrpc":"2.0","id":${BIG},"method":"ping"},{"jsonrpc":"2.0","id":${JSON.stringify(LOOKALIKE)},"method":"ping"},` +
      `{"jsonrpc":"2.0","id":${JSON.stringify(`\u0000mcp-sidecar:integer:${BIG}`)},"method":"ping"}]`,
  );
  assert.equal(new Set(batch.map((m) => idKey(m.id))).size, 3, 'three ids, three keys');
  const text = toJson(batch.map((m) => answer(m.id)));
  const back = JSON.parse(text);
  assert.deepEqual(
    back.map((m: any) => m.id),
    [1e20, LOOKALIKE, `\u0000mcp-sidecar:integer:${BIG}`],
  );
  assert.match(text, new RegExp(`"id":${BIG},`));

  const [alone] = received(`{"jsonrpc":"2.0","id":${JSON.stringify(LOOKALIKE)},"method":"ping"}`);
  assert.equal(JSON.parse(toJson(answer(alone.id))).id, LOOKALIKE);
  assert.equal(idJson(alone.id), JSON.stringify(LOOKALIKE));
  assert.equal(idJson(batch[0].id), BIG);
  assert.equal(idJson('plain'), '"plain"');
});

test('a big progress token comes back on notifications/progress as sent; a look-alike string token as that string', () => {
  for (const [token, expected] of [
    ['12345678901234567891', '12345678901234567891'],
    [JSON.stringify(LOOKALIKE), JSON.stringify(LOOKALIKE)],
    ['"plain"', '"plain"'],
    ['7', '7'],
  ]) {
    const [request] = received(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":${token}}}}`,
    );
    const progressToken = request.params._meta.progressToken;
    const progress = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, progress: 1 } };
    assert.equal(
      toJson(progress),
      `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${expected},"progress":1}}`,
    );
  }
});

test('a cancellation names a big id by the same key as the request it cancels', () => {
  const [request, cancel] = received(
    `[{"jsonrpc":"2.0","id":${BIG},"method":"ping"},` +
      `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":${BIG},"reason":"x"}}]`,
  );
  assert.equal(idKey(cancel.params.requestId), idKey(request.id));
  const [lookalike, itsCancel] = received(
    `[{"jsonrpc":"2.0","id":${JSON.stringify(LOOKALIKE)},"method":"ping"},` +
      `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":${JSON.stringify(LOOKALIKE)}}}]`,
  );
  assert.equal(idKey(itsCancel.params.requestId), idKey(lookalike.id));
  assert.notEqual(idKey(lookalike.id), idKey(request.id));
});

test('only the kept places are marked: big numbers elsewhere reach the server as before, other methods untouched', () => {
  const [call, note] = received(
    `[{"jsonrpc":"2.0","id":${BIG},"method":"tools/call","params":{"name":"x","arguments":{"n":${BIG},"requestId":${BIG}}}},` +
      `{"jsonrpc":"2.0","method":"notifications/other","params":{"requestId":${BIG},"_meta":{"progressToken":${BIG}}}}]`,
  );
  assert.equal(call.params.arguments.n, 1e20);
  assert.equal(call.params.arguments.requestId, 1e20);
  assert.equal(note.params.requestId, 1e20);
  assert.equal(note.params._meta.progressToken, 1e20);
  // Not integers, or not beyond 2^53: as JSON.parse made them.
  const [fraction] = received(`{"jsonrpc":"2.0","id":1.5e300,"method":"ping"}`);
  assert.equal(fraction.id, 1.5e300);
  const [plain] = received(`{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}`);
  assert.equal(plain.id, 9007199254740991);
});

test('what a server writes is serialized as it is, even a mark in a place the sidecar fills for clients', () => {
  const mark = `\u0000mcp-sidecar:integer:${BIG}`;
  const log = { jsonrpc: '2.0', method: 'notifications/message', params: { progressToken: mark, data: mark } };
  assert.equal(toJson(log), JSON.stringify(log));
  const listed = answer(1, { _meta: { [META.subscriptionId]: mark } });
  assert.equal(toJson(listed), JSON.stringify(listed));
  // Nothing marked: exactly JSON.stringify (the hot path), one message or a batch.
  const batch = [
    answer(1),
    answer('a'),
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't' } },
  ];
  assert.equal(toJson(batch), JSON.stringify(batch));
  assert.equal(toJson(answer(2)), JSON.stringify(answer(2)));
});

test('a listen stream with a big id carries it as the subscription id, as the client sent it', () => {
  const [listen] = received(`{"jsonrpc":"2.0","id":${BIG},"method":"subscriptions/listen","params":{}}`);
  const note = {
    jsonrpc: '2.0',
    method: 'notifications/tools/list_changed',
    params: { _meta: { [META.subscriptionId]: listen.id, other: listen.id } },
  };
  const text = toJson(note, listen.id);
  assert.ok(text.includes(`${JSON.stringify(META.subscriptionId)}:${BIG},`), text);
  assert.equal(JSON.parse(text).params._meta.other, listen.id, 'only the subscription id place');
  const closing = toJson(
    { jsonrpc: '2.0', id: listen.id, result: { _meta: { [META.subscriptionId]: listen.id } } },
    listen.id,
  );
  assert.equal(
    closing,
    `{"jsonrpc":"2.0","id":${BIG},"result":{"_meta":{${JSON.stringify(META.subscriptionId)}:${BIG}}}}`,
  );
});

test('serialization with marks keeps JSON.stringify semantics: key order, undefined members left out, tricky strings', () => {
  const [request] = received(`{"jsonrpc":"2.0","id":${BIG},"method":"ping"}`);
  const tricky = ['"', '\\', '\u0000', '\ud800', 'line\nbreak', '\u2028', '"\\u0000mcp-sidecar:integer:1"'];
  const response = { jsonrpc: '2.0', id: request.id, result: { tricky, skip: undefined, n: null } };
  const text = toJson(response);
  assert.equal(text, JSON.stringify({ ...response, id: 0 }).replace('"id":0', `"id":${BIG}`));
  assert.deepEqual(JSON.parse(text).result, { tricky, n: null });
});

test('the digits are read from the text whatever its spacing, escaped keys, and strings that look like structure', () => {
  const spaced = received(
    ` [ { "method" : "ping" , "x" : "},{\\"id\\":1" , "jsonrpc" : "2.0" , "i\\u0064" : ${BIG} } ,\n` +
      `{"jsonrpc":"2.0","params":{"name":"a,b","arguments":{"id":1,"_meta":{"progressToken":5}},` +
      `"_meta":{"progressToken" :\t-${BIG}}},"method":"tools/call","id":-${BIG}}]`,
  );
  assert.equal(
    toJson(spaced.map((m) => answer(m.id))),
    `[{"jsonrpc":"2.0","id":${BIG},"result":{"ok":true}},{"jsonrpc":"2.0","id":-${BIG},"result":{"ok":true}}]`,
  );
  assert.equal(idJson(spaced[1].params._meta.progressToken), `-${BIG}`);
  assert.equal(spaced[1].params.arguments._meta.progressToken, 5, 'a token in the arguments is the tool’s');
  // A key given twice: JSON.parse keeps the last, and so do the digits.
  const [twice] = received(`{"jsonrpc":"2.0","id":${BIG}1,"method":"ping","id":${BIG}}`);
  assert.equal(idJson(twice.id), BIG);
});
