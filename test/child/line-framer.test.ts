/** Newline-delimited JSON framing of a server's stdout: messages, garbage that is counted, lines over the limit. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineFramer, idFromHead, idFromTail, type FramerSink } from '../../sidecar/child/line-framer.js';

function recorder() {
  const seen = {
    messages: [] as unknown[],
    garbage: [] as Array<{ line: string; reason: string }>,
    oversized: [] as Array<{ bytes: number; tail: string; head: string }>,
    tooDeep: [] as Array<{ tail: string; head: string }>,
  };
  const sink: FramerSink = {
    message: (value) => seen.messages.push(value),
    garbage: (line, reason) => seen.garbage.push({ line, reason }),
    oversized: (bytes, tail, head) => seen.oversized.push({ bytes, tail, head }),
    tooDeep: (tail, head) => seen.tooDeep.push({ tail, head }),
  };
  return { seen, sink };
}

test('one message per line, however the chunks fall', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1024, sink);
  const text = '{"jsonrpc":"2.0","id":1,"result":{}}\n{"jsonrpc":"2.0","method":"x"}\n';
  for (const ch of text) framer.push(ch); // worst case: one character per chunk
  framer.push('{"jsonrpc":"2.0","id":"a","result":{"s":"ü"}}\n{"jsonrpc":"2.0","id":2,"result":{}}\n');
  assert.deepEqual(seen.messages, [
    { jsonrpc: '2.0', id: 1, result: {} },
    { jsonrpc: '2.0', method: 'x' },
    { jsonrpc: '2.0', id: 'a', result: { s: 'ü' } },
    { jsonrpc: '2.0', id: 2, result: {} },
  ]);
  assert.equal(seen.garbage.length, 0);
});

test('CRLF and blank lines are tolerated; a line without its newline waits for the rest', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1024, sink);
  framer.push('\n\r\n{"jsonrpc":"2.0","id":1,"result":{}}\r\n{"jsonrpc":"2.0",');
  assert.equal(seen.messages.length, 1);
  framer.push('"id":2,"result":{}}\n');
  assert.deepEqual(seen.messages[1], { jsonrpc: '2.0', id: 2, result: {} });
  assert.equal(seen.garbage.length, 0);
});

test('non-JSON lines and JSON that is not an object are garbage, and framing goes on', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1024, sink);
  framer.push('Server starting...\n12345\n"text"\nnull\n{"jsonrpc":"2.0","id":1,"result":{}}\n{broken\n');
  assert.deepEqual(
    seen.garbage.map((g) => g.line),
    ['Server starting...', '12345', '"text"', 'null', '{broken'],
  );
  assert.match(seen.garbage[0].reason, /not JSON/);
  assert.match(seen.garbage[1].reason, /not a JSON-RPC message object/);
  assert.deepEqual(seen.messages, [{ jsonrpc: '2.0', id: 1, result: {} }]);
});

test('a line over the limit in one chunk is reported as oversized with its tail', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(100, sink);
  const big = `{"jsonrpc":"2.0","result":{"text":"${'x'.repeat(500)}"},"id":42}`;
  framer.push(`${big}\n{"jsonrpc":"2.0","id":43,"result":{}}\n`);
  assert.equal(seen.oversized.length, 1);
  assert.equal(seen.oversized[0].bytes, Buffer.byteLength(big));
  assert.equal(idFromTail(seen.oversized[0].tail), 42);
  assert.deepEqual(seen.messages, [{ jsonrpc: '2.0', id: 43, result: {} }]);
});

test('a line over the limit across many chunks is discarded without buffering it whole', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1000, sink);
  framer.push('{"jsonrpc":"2.0","result":{"text":"');
  for (let i = 0; i < 100; i++) framer.push('y'.repeat(1000));
  assert.equal(seen.oversized.length, 0, 'nothing is reported before the line ends');
  assert.ok((framer as unknown as { partial: string }).partial.length <= 1000, 'the framer does not keep the line');
  framer.push('"},"id":7}\n{"jsonrpc":"2.0","id":8,"result":{}}\n');
  assert.equal(seen.oversized.length, 1);
  assert.equal(seen.oversized[0].bytes, 35 + 100_000 + 10);
  assert.equal(idFromTail(seen.oversized[0].tail), 7);
  assert.deepEqual(seen.messages, [{ jsonrpc: '2.0', id: 8, result: {} }]);
});

test('idFromTail finds the numeric response id at the end of a serialized response', () => {
  assert.equal(idFromTail('xxxx"},"id":12}'), 12);
  assert.equal(idFromTail('xxxx"}, "id" : 3 }'), 3);
  assert.equal(idFromTail('"id":5,"jsonrpc":"2.0","result":{"text":"abc"}}'), 5);
  assert.equal(idFromTail('no id here'), undefined);
});

test('an oversized line whose id comes first (Python SDK order) is still attributed, from its head', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1000, sink);
  framer.push('{"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"');
  for (let i = 0; i < 10; i++) framer.push('z'.repeat(500));
  framer.push('"}]}}\n');
  assert.equal(seen.oversized.length, 1);
  assert.equal(idFromTail(seen.oversized[0].tail), undefined, 'nothing to find at the end');
  assert.equal(idFromHead(seen.oversized[0].head), 9);
  const { seen: one, sink: oneSink } = recorder();
  new LineFramer(100, oneSink).push(`{"id":4,"jsonrpc":"2.0","result":{"text":"${'q'.repeat(300)}"}}\n`);
  assert.equal(idFromHead(one.oversized[0].head), 4);
});

test('idFromHead only takes the top-level id, never one inside the result', () => {
  assert.equal(idFromHead('{"jsonrpc":"2.0","id":12,"result":{}'), 12);
  assert.equal(idFromHead(' { "id" : 3 , "jsonrpc":"2.0"'), 3);
  assert.equal(idFromHead('{"jsonrpc":"2.0","result":{"id":5,"text":"'), undefined);
  assert.equal(idFromHead('{"result":{"content":[{"text":"{\\"id\\": 5'), undefined);
  assert.equal(
    idFromHead('{"jsonrpc":"2.0","id":"abc","result":'),
    undefined,
    'the sidecar gives the server numeric ids only',
  );
});

test('a line nesting past the relay limit is reported with its head and tail, not parsed', () => {
  const { seen, sink } = recorder();
  const framer = new LineFramer(1 << 20, sink);
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  framer.push(
    `{"jsonrpc":"2.0","id":7,"result":{"content":${deep}}}\n{"jsonrpc":"2.0","id":8,"result":{"x":[[[1]]]}}\n`,
  );
  assert.equal(seen.tooDeep.length, 1);
  assert.equal(idFromHead(seen.tooDeep[0].head), 7);
  assert.deepEqual(seen.messages, [{ jsonrpc: '2.0', id: 8, result: { x: [[[1]]] } }]);
});
