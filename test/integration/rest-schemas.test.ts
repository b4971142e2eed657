/**
 * The REST facade checks arguments against each tool's own inputSchema: two tools whose schemas share an `$id`
 * are not checked against each other's, and a schema that cannot be compiled is the server's fault (502), not an
 * internal error of the sidecar.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, rest } from '../support/harness.js';
import { fixtureCommand } from '../support/sidecar-process.js';

test('two tools whose inputSchemas share an $id are each checked against their own', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('schema-ids')]);
  assert.equal((await rest(sidecar.url, 'id_a', { a: 'x' })).status, 200);
  const b = await rest(sidecar.url, 'id_b', { b: 1 });
  assert.equal(b.status, 200, JSON.stringify(b.body));
  const wrong = await rest(sidecar.url, 'id_b', { a: 'x' });
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.match(wrong.body.error, /required property 'b'/);
});

test('an inputSchema that cannot be compiled is a 502 naming the tool, every time, and the other tools work', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('schema-ids')]);
  for (let i = 0; i < 2; i++) {
    const cyclic = await rest(sidecar.url, 'cyclic', { x: 1 });
    assert.equal(cyclic.status, 502, JSON.stringify(cyclic.body));
    assert.match(cyclic.body.error, /inputSchema of "cyclic" cannot be compiled/);
  }
  assert.equal((await rest(sidecar.url, 'id_a', { a: 'x' })).status, 200);
  assert.doesNotMatch(sidecar.logs(), /internal error/);
});

test("arguments are checked by their own properties: a schema naming constructor or toString finds no Object's", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('schema-ids')]);
  const missing = await rest(sidecar.url, 'proto_names', {});
  assert.equal(missing.status, 400, JSON.stringify(missing.body));
  assert.match(missing.body.error, /required property 'toString'/);
  const given = await rest(sidecar.url, 'proto_names', { toString: 'x' });
  assert.equal(given.status, 200, JSON.stringify(given.body));
  const wrong = await rest(sidecar.url, 'proto_names', { toString: 'x', constructor: 'not a number' });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body.error, /constructor must be number/);
});
