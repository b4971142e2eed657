/**
 * Many sessions over one server process: each gets exactly its own responses, with its ids back exactly as it
 * sent them (numbers stay numbers, "1" and 1 stay apart, ids that collide across sessions stay apart), and
 * progress reaches only the session whose request asked for it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, metric, session, textOf, within } from '../support/harness.js';
import { fixtureCommand, readMessages, waitFor, type JsonRpcMessage } from '../support/sidecar-process.js';

test('50 concurrent sessions each get exactly their own responses, string and number ids intact', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const pidBefore = sidecar.readyBody!.worker.pid;
  const SESSIONS = 50;
  const clients = await Promise.all(Array.from({ length: SESSIONS }, () => session(t, sidecar.url)));
  assert.equal(new Set(clients.map((c) => c.sessionId)).size, SESSIONS, 'every session has its own id');

  // Every session uses the same colliding ids (1, "1", 0, "") plus ids of its own, all at once.
  const idsFor = (i: number): Array<string | number> => [1, '1', 0, '', `s${i}`, 1000 + i, -(i + 1), 1.5];
  const started = performance.now();
  const results = await Promise.all(
    clients.flatMap((client, i) =>
      idsFor(i).map(async (id) => {
        const args = { session: i, id, note: `payload for session ${i} id ${JSON.stringify(id)}` };
        const response = await callTool(client, 'echo', args, { id });
        return { i, id, args, response };
      }),
    ),
  );
  t.diagnostic(`${results.length} calls over ${SESSIONS} sessions in ${Math.round(performance.now() - started)} ms`);
  for (const { i, id, args, response } of results) {
    assert.deepEqual(
      response.id,
      id,
      `session ${i}: id ${JSON.stringify(id)} came back as ${JSON.stringify(response.id)}`,
    );
    assert.equal(typeof response.id, typeof id);
    assert.ok(response.result, `session ${i} id ${JSON.stringify(id)}: ${JSON.stringify(response.error)}`);
    assert.deepEqual(
      JSON.parse(textOf(response)),
      args,
      `session ${i} id ${JSON.stringify(id)} got someone else's answer`,
    );
  }

  // A batch: both answers in one JSON array, each with its own id.
  const res = await clients[0].post([
    { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { n: 'seven' } } },
    { jsonrpc: '2.0', id: '7', method: 'tools/call', params: { name: 'echo', arguments: { s: 'seven' } } },
  ]);
  assert.equal(res.status, 200);
  const batch: JsonRpcMessage[] = [];
  await readMessages(res, (m) => batch.push(m));
  const byId = new Map(batch.map((m) => [JSON.stringify(m.id), m]));
  assert.equal(batch.length, 2);
  assert.deepEqual(JSON.parse(textOf(byId.get('7')!)), { n: 'seven' });
  assert.deepEqual(JSON.parse(textOf(byId.get('"7"')!)), { s: 'seven' });

  // The same id twice in flight in one session is refused, and the first request still gets its own answer
  // (the second POST must not take over the first one's stream).
  const first = callTool(clients[1], 'slow', { ms: 300, steps: 1 }, { id: 'dup' });
  await waitFor(
    async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) >= 1,
    5000,
    'the first call to be in flight',
    5,
  );
  const second = await callTool(clients[1], 'echo', {}, { id: 'dup' });
  assert.equal(second.error?.code, -32600);
  assert.match(second.error.message, /already in flight/);
  const firstAnswer = await within(first, 5000);
  assert.ok(firstAnswer, 'the first request with the id was never answered');
  assert.equal(textOf(firstAnswer), 'done');
  const dupBatch = await clients[2].post([
    { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'slow', arguments: { ms: 100, steps: 1 } } },
    { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: {} } },
  ]);
  const dupAnswers: JsonRpcMessage[] = [];
  await readMessages(dupBatch, (m) => dupAnswers.push(m));
  assert.deepEqual(dupAnswers.map((m) => (m.result ? textOf(m) : m.error.code)).sort(), [-32600, 'done'].sort());

  const ready = await (await fetch(`${sidecar.url}/readyz`)).json();
  assert.equal(ready.worker.pid, pidBefore, 'one server process served them all');
});

test('progress notifications reach only the session that asked, with its own token (tokens that collide across sessions too)', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const SESSIONS = 8;
  const STEPS = 4;
  const clients = await Promise.all(Array.from({ length: SESSIONS }, () => session(t, sidecar.url)));
  // Half the sessions use token 7, half "7": the same token in several sessions at once.
  const tokenFor = (i: number) => (i % 2 === 0 ? 7 : '7');
  const outcomes = await Promise.all(
    clients.map(async (client, i) => {
      const progress: JsonRpcMessage[] = [];
      const others: JsonRpcMessage[] = [];
      const response = await client.request(
        'tools/call',
        {
          name: 'slow',
          arguments: { ms: 400, steps: STEPS, tag: `session-${i}` },
          _meta: { progressToken: tokenFor(i) },
        },
        { onMessage: (m) => (m.method === 'notifications/progress' ? progress : others).push(m) },
      );
      return { i, response, progress, others };
    }),
  );
  for (const { i, response, progress, others } of outcomes) {
    assert.equal(textOf(response), `done session-${i}`);
    assert.equal(progress.length, STEPS, `session ${i} saw ${progress.length} progress notifications`);
    progress.forEach((p, step) => {
      assert.deepEqual(
        p.params.progressToken,
        tokenFor(i),
        `session ${i} got token ${JSON.stringify(p.params.progressToken)}`,
      );
      assert.equal(
        p.params.message,
        `session-${i} ${step + 1}/${STEPS}`,
        `session ${i} got another session's progress`,
      );
      assert.equal(p.params.progress, step + 1);
      assert.equal(p.params.total, STEPS);
    });
    assert.deepEqual(others, [], `session ${i}: nothing else on its stream`);
  }
});
