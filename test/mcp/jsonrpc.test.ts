/** The structural JSON-RPC checks that keep malformed input from the child, and ids as map keys. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorResponse, idKey, kindOf, resultResponse } from '../../sidecar/mcp/jsonrpc.js';

test('kindOf tells requests, notifications and responses apart', () => {
  assert.equal(kindOf({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 'request');
  assert.equal(kindOf({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'x' } }), 'request');
  assert.equal(kindOf({ jsonrpc: '2.0', method: 'notifications/initialized' }), 'notification');
  assert.equal(kindOf({ jsonrpc: '2.0', id: 3, result: {} }), 'response');
  assert.equal(kindOf({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'x' } }), 'response');
});

test('kindOf rejects what is not JSON-RPC 2.0', () => {
  const invalid: unknown[] = [
    null,
    42,
    'text',
    [],
    [{ jsonrpc: '2.0', id: 1, method: 'x' }],
    {},
    { id: 1, method: 'x' },
    { jsonrpc: '1.0', id: 1, method: 'x' },
    { jsonrpc: '2.0', id: 1 },
    { jsonrpc: '2.0', method: 7 },
    { jsonrpc: '2.0', id: 1, method: 'x', params: 'not an object' },
    { jsonrpc: '2.0', id: 1, method: 'x', params: null },
    { jsonrpc: '2.0', id: { nested: true }, method: 'x' },
    { jsonrpc: '2.0', id: null, method: 'x' },
    { jsonrpc: '2.0', id: Number.NaN, method: 'x' },
    { jsonrpc: '2.0', id: true, result: {} },
    { jsonrpc: '2.0', result: {} },
  ];
  for (const value of invalid) assert.equal(kindOf(value), 'invalid', JSON.stringify(value));
});

test('idKey keeps "1" and 1 apart and is stable for equal ids', () => {
  assert.notEqual(idKey(1), idKey('1'));
  assert.equal(idKey(1), idKey(1));
  assert.equal(idKey('abc'), idKey('abc'));
  assert.notEqual(idKey('s:1'), idKey('1'));
  const map = new Map<string | number, string>([
    [idKey(1), 'number'],
    [idKey('1'), 'string'],
  ]);
  assert.equal(map.size, 2);
  assert.equal(map.get(idKey('1')), 'string');
  assert.equal(map.get(idKey(0)), undefined);
});

test('errorResponse and resultResponse build 2.0 messages, data only when given', () => {
  assert.deepEqual(errorResponse('x', -32600, 'bad'), {
    jsonrpc: '2.0',
    id: 'x',
    error: { code: -32600, message: 'bad' },
  });
  assert.deepEqual(errorResponse(1, -32002, 'down', { retryAfterSeconds: 2 }).error?.data, { retryAfterSeconds: 2 });
  assert.deepEqual(resultResponse(2, { ok: true }), { jsonrpc: '2.0', id: 2, result: { ok: true } });
});
