/**
 * The router, the sessions and the pools through the Channel interface, with in-memory servers and recording
 * clients: id rewriting, progress, cancellation, timeouts, server requests, limits, restarts. No process is
 * started; the process-level tests in test/integration cover the same paths end to end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSession, startCore, type MemoryTool } from '../support/memory-server.js';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tools: Record<string, MemoryTool> = {
  echo: { call: (args) => ({ content: [{ type: 'text', text: JSON.stringify(args) }] }) },
  slow: {
    call: async (args) => (await delay(Number(args.ms ?? 100)), { content: [{ type: 'text', text: 'slow done' }] }),
  },
  silent: { call: () => undefined },
  readonly: {
    annotations: { readOnlyHint: true },
    call: async () => (await delay(100), { content: [{ type: 'text', text: 'read' }] }),
  },
  progress: {
    call: async (_args, { request, server }) => {
      server.emit({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: request.params._meta.progressToken, progress: 1, total: 2 },
      });
      await delay(10);
      return { content: [{ type: 'text', text: 'progressed' }] };
    },
  },
  sample: {
    call: async (_args, { server }) => {
      server.emit({
        jsonrpc: '2.0',
        id: 'srv-1',
        method: 'sampling/createMessage',
        params: { messages: [], maxTokens: 1 },
      });
      await delay(200);
      return { content: [{ type: 'text', text: 'asked' }] };
    },
  },
};

const call = (
  id: string | number,
  name: string,
  args: Record<string, unknown> = {},
  meta?: Record<string, unknown>,
) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

test('two sessions using the same id get their own answers; the server sees distinct ids', async (t) => {
  const core = await startCore(tools);
  t.after(() => core.stop());
  const [a, b] = [await openSession(core), await openSession(core)];
  a.receive(call(1, 'echo', { who: 'a' }));
  b.receive(call(1, 'echo', { who: 'b' }));
  assert.equal((await a.response(1)).result.content[0].text, '{"who":"a"}');
  assert.equal((await b.response(1)).result.content[0].text, '{"who":"b"}');
  const ids = core.servers[0].received.filter((m) => m.method === 'tools/call').map((m) => m.id);
  assert.equal(new Set(ids).size, 2);
  assert.equal(core.router.inflight, 0);
});

test('progress goes back to its caller under the caller’s own token', async (t) => {
  const core = await startCore(tools);
  t.after(() => core.stop());
  const client = await openSession(core);
  client.receive(call('p', 'progress', {}, { progressToken: 'mine' }));
  await client.response('p');
  const progress = client.sent.find((s) => s.message.method === 'notifications/progress');
  assert.ok(progress, 'progress relayed');
  assert.equal(progress.message.params.progressToken, 'mine');
  assert.equal(progress.related, 's:p', 'on the stream of the call');
  const atServer = core.servers[0].received.find((m) => m.method === 'tools/call');
  assert.equal(typeof atServer!.params._meta.progressToken, 'number', 'the server saw the rewritten token');
});

test('a client cancellation reaches the server under the child id and abandons the stream; no response follows', async (t) => {
  const core = await startCore(tools);
  t.after(() => core.stop());
  const client = await openSession(core);
  client.receive(call(7, 'slow', { ms: 200 }));
  await delay(20);
  client.receive({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: 7, reason: 'changed my mind' },
  });
  await delay(300);
  const childId = core.servers[0].received.find((m) => m.method === 'tools/call')!.id;
  const cancel = core.servers[0].received.find((m) => m.method === 'notifications/cancelled');
  assert.deepEqual(cancel?.params, { requestId: childId, reason: 'changed my mind' });
  assert.deepEqual(client.abandoned, [7]);
  assert.equal(client.sent.filter((s) => s.message.id === 7).length, 0);
  assert.equal(core.router.inflight, 0);
});

test('a request the server never answers times out with -32001 and is cancelled at the server', async (t) => {
  const core = await startCore(tools, { requestTimeoutMs: 100 });
  t.after(() => core.stop());
  const client = await openSession(core);
  client.receive(call('t', 'silent'));
  const answer = await client.response('t');
  assert.equal(answer.error.code, -32001);
  assert.match(answer.error.message, /within 0.1s \(--request-timeout\)/);
  assert.ok(core.servers[0].received.some((m) => m.method === 'notifications/cancelled'));
});

test('a server request goes to the one caller in flight; with two callers it is refused to the server', async (t) => {
  const core = await startCore(tools);
  t.after(() => core.stop());
  const asker = await openSession(core, { sampling: {} });
  asker.receive(call('s', 'sample'));
  await delay(50);
  const relayed = asker.sent.find((s) => s.message.method === 'sampling/createMessage');
  assert.ok(relayed, 'relayed to the caller');
  assert.equal(relayed.related, 's:s');
  await asker.response('s');

  const other = await openSession(core, { sampling: {} });
  other.receive(call('x', 'slow', { ms: 300 }));
  asker.receive(call('s2', 'sample'));
  await delay(50);
  const refusal = core.servers[0].received.find((m) => m.id === 'srv-1' && m.error);
  assert.equal(refusal?.error.code, -32004);
  assert.match(refusal!.error.message, /2 clients have requests in flight/);
});

test('--max-session-inflight answers past the cap at once with -32005, and frees up as calls end', async (t) => {
  const core = await startCore(tools, { maxSessionInflight: 2 });
  t.after(() => core.stop());
  const client = await openSession(core);
  client.receive(call(1, 'slow', { ms: 100 }));
  client.receive(call(2, 'slow', { ms: 100 }));
  client.receive(call(3, 'echo'));
  const refused = await client.response(3, 50);
  assert.equal(refused.error.code, -32005);
  await client.response(1);
  await client.response(2);
  client.receive(call(4, 'echo'));
  assert.ok((await client.response(4)).result);
});

test('a readOnly call in flight when the server dies is answered by the restarted one; a request meanwhile waits', async (t) => {
  const core = await startCore(tools);
  t.after(() => core.stop());
  const client = await openSession(core);
  client.receive(call('r', 'readonly'));
  client.receive(call('w', 'slow', { ms: 500 }));
  await delay(20);
  core.servers[0].crash();
  const failed = await client.response('w');
  assert.equal(failed.error.code, -32002, 'a tool without the hint fails at once');
  client.receive(call('during', 'echo', { n: 1 }));
  assert.equal((await client.response('r')).result.content[0].text, 'read');
  assert.equal((await client.response('during')).result.content[0].text, '{"n":1}');
  assert.equal(core.servers.length, 2, 'a second server was started');
  assert.equal(core.router.inflight, 0);
});

test('isolated mode: each session has its own server; its death closes that session only', async (t) => {
  const core = await startCore(tools, { mode: 'isolated' });
  t.after(() => core.stop());
  const [a, b] = [await openSession(core), await openSession(core)];
  a.receive(call(1, 'echo'));
  b.receive(call(1, 'echo'));
  await a.response(1);
  await b.response(1);
  assert.equal(core.servers.length, 3, 'the primary and one per session');
  core.servers[1].crash();
  await delay(20);
  assert.match(a.closed ?? '', /killed by SIGKILL/);
  assert.equal(b.closed, undefined);
  assert.equal(core.router.sessions.size, 1);
});
