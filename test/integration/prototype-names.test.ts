/**
 * Names a server chooses (an MRTR input key, a server→client request method, a log level) are looked up in the
 * sidecar's own tables: `constructor` or `toString` must be as unknown there as any other unknown name, not
 * Object.prototype's functions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { launch, textOf } from '../support/harness.js';
import { modern } from '../support/modern-post.js';
import { fixtureCommand } from '../support/sidecar-process.js';

const CAN_ELICIT = { _meta: { 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } };
const ALICE = { action: 'accept', content: { name: 'Alice' } };

test('an MRTR input key named constructor, toString or __proto__ is asked of the client and answered by its retry', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('prototype-names')]);
  for (const key of ['constructor', 'toString', '__proto__']) {
    const params = { name: 'ask_keyed', arguments: { key }, ...CAN_ELICIT };
    const first = await modern(sidecar.url, 'tools/call', params);
    const result = first.response!.result as { resultType: string; inputRequests: object; requestState: string };
    assert.equal(result.resultType, 'input_required', JSON.stringify(first.response));
    assert.deepEqual(Object.keys(result.inputRequests), [key]);
    const retried = { ...params, inputResponses: { [key]: ALICE }, requestState: result.requestState };
    const second = await modern(sidecar.url, 'tools/call', retried, {}, 2);
    assert.deepEqual(JSON.parse(textOf(second.response!)).result, ALICE, JSON.stringify(second.response));
  }
});

test('a server request whose method is constructor is refused to the server; the client call goes on', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('prototype-names')]);
  const params = { name: 'ask_method', arguments: { method: 'constructor' }, ...CAN_ELICIT };
  const { response } = await modern(sidecar.url, 'tools/call', params);
  assert.equal(response!.error, undefined, JSON.stringify(response));
  const answer = JSON.parse(textOf(response!)) as { error?: { message: string } };
  assert.ok(answer.error, JSON.stringify(answer));
  assert.doesNotMatch(answer.error.message, /native code/);
});

test('a legacy client of a modern server answers an InputRequiredResult keyed __proto__', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('modern-proto-key')]);
  const client = new Client({ name: 'proto', version: '1' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ALICE as { action: 'accept' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${sidecar.url}/mcp`)));
  t.after(() => client.close());
  const answer = await client.callTool({ name: 'ask', arguments: {} });
  assert.deepEqual(JSON.parse((answer.content as Array<{ text: string }>)[0].text), ALICE);
});
