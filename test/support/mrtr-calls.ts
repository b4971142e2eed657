/**
 * The Multi Round-Trip calls the MRTR tests make against the conformance fixture (a legacy server that asks with
 * elicitation/create): the first leg, which gets an InputRequiredResult, and the retry with inputResponses.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { MODERN, modern } from './modern-post.js';

export const ELICIT = 'test_input_required_result_elicitation';
export const CAN_ELICIT = { _meta: { 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } };
export const ALICE = { action: 'accept', content: { name: 'Alice' } };

/** The first leg of the elicitation tool: its InputRequiredResult. */
export async function ask(url: string, headers: Record<string, string> = {}, args: Record<string, unknown> = {}) {
  const first = await modern(url, 'tools/call', { name: ELICIT, arguments: args, ...CAN_ELICIT }, headers);
  const result = first.response!.result;
  assert.equal(result?.resultType, 'input_required', JSON.stringify(first.response));
  return result as { inputRequests: Record<string, any>; requestState: string };
}

/** The retry that answers the elicitation with ALICE. */
export function retry(url: string, requestState: string, headers: Record<string, string> = {}, args = {}, id = 2) {
  const params = { name: ELICIT, arguments: args, inputResponses: { user_name: ALICE }, requestState, ...CAN_ELICIT };
  return modern(url, 'tools/call', params, headers, id);
}

/**
 * The official client pinned to 2026-07-28, connected to `url` (/mcp) with `headers`, answering elicitations with
 * Alice's name (and "blue" for a color); closed after the test. `asked` collects the messages it was asked.
 */
export async function elicitingClient(t: TestContext, url: string, headers: Record<string, string> = {}) {
  const client = new Client(
    { name: 'mrtr-test', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: MODERN } } },
  );
  const asked: string[] = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(request.params.message);
    const content: Record<string, string> = /color/.test(request.params.message)
      ? { color: 'blue' }
      : { name: 'Alice' };
    return { action: 'accept', content };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  t.after(() => client.close());
  return { client, asked };
}
