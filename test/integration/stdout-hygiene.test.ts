/**
 * What a server prints on stdout that is not a message: garbage lines are counted in /metrics and logged, never
 * fatal; so is a progress notification whose values MCP does not allow; a reply over --max-message fails that one
 * call with a clear error and the server keeps serving.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, metric, rest, session, textOf } from '../support/harness.js';
import { modern } from '../support/modern-post.js';
import { fixtureCommand, readyz } from '../support/sidecar-process.js';

test('garbage lines on stdout are counted and logged, and every call still gets its answer', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('garbage')]);
  const pid = sidecar.readyBody!.worker.pid;
  const client = await session(t, sidecar.url);
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => callTool(client, 'echo', { i })));
  answers.forEach((a, i) => assert.deepEqual(JSON.parse(textOf(a)), { i }));
  assert.equal((await rest(sidecar.url, 'add', { a: 2, b: 3 })).body.content[0].text, '5');

  // The banner, plus one garbage line before each of the handshake's and the calls' messages.
  const garbage = await metric(sidecar.url, 'mcp_sidecar_child_stdout_garbage_lines_total');
  t.diagnostic(`garbage lines counted: ${garbage}`);
  assert.ok(garbage >= 23, `counted ${garbage}`);
  assert.match(sidecar.logs(), /ignored a line on the MCP server stdout that is not a JSON-RPC message/);
  assert.match(sidecar.logs(), /Starting garbage server v1/);
  assert.match(sidecar.logs(), /JSON but not a JSON-RPC message object|JSON but not a valid JSON-RPC 2\.0 message/);
  const ready = await readyz(sidecar.url);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.worker.pid, pid, 'never restarted for it');
  assert.equal(ready.body.worker.restarts, 0);
});

test('a reply over --max-message fails that call alone, with a clear error', async (t) => {
  const sidecar = await launch(t, ['--max-message', '1mb', '--', ...fixtureCommand('huge')]);
  const pid = sidecar.readyBody!.worker.pid;
  const client = await session(t, sidecar.url);
  const [small, huge, meanwhile] = await Promise.all([
    callTool(client, 'huge', { bytes: 500_000 }),
    callTool(client, 'huge', { bytes: 3_000_000 }, { id: 'too-big' }),
    callTool(client, 'slow', { ms: 200, steps: 2 }),
  ]);
  assert.equal(textOf(small).length, 500_000, 'under the limit: relayed whole');
  assert.equal(huge.id, 'too-big');
  assert.equal(huge.error?.code, -32003, JSON.stringify(huge).slice(0, 300));
  assert.match(huge.error.message, /reply was \d+ bytes, over the sidecar's --max-message limit of 1048576 bytes/);
  assert.equal(textOf(meanwhile), 'done', 'a call in flight beside it is unaffected');

  const viaRest = await rest(sidecar.url, 'huge', { bytes: 2_000_000 });
  assert.equal(viaRest.status, 502);
  assert.match(viaRest.body.error, /--max-message/);

  assert.deepEqual(JSON.parse(textOf(await callTool(client, 'echo', { after: 'huge' }))), { after: 'huge' });
  const ready = await readyz(sidecar.url);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.worker.pid, pid, 'the server was not restarted');
});

test('a notifications/progress whose progress or total is not a finite number, or whose message is not a string, is dropped and counted as garbage, on sessions and modern requests alike', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  // As the server writes them after the token: 1e400 parses to Infinity, which would reach the client as null.
  const bad = [
    '"progress":"NaN"',
    '"progress":null',
    '"progress":{}',
    '"progress":1e400',
    '"total":3',
    '"progress":1,"total":"3"',
    '"progress":1,"total":-1e400',
    '"progress":1,"total":null',
    '"progress":2,"message":5',
  ];
  const good = ['"progress":1', '"progress":2.5,"total":10,"message":"ok"'];
  const params = [...bad.slice(0, 5), good[0], ...bad.slice(5), good[1]];
  const wanted = [{ progress: 1 }, { progress: 2.5, total: 10, message: 'ok' }];
  const args = { params };

  const client = await session(t, sidecar.url);
  const seen: Array<Record<string, unknown>> = [];
  const answer = await client.request(
    'tools/call',
    { name: 'progress-values', arguments: args, _meta: { progressToken: 'legacy' } },
    { onMessage: (m) => m.method === 'notifications/progress' && seen.push(m.params) },
  );
  assert.equal(textOf(answer), `wrote ${params.length}`);
  assert.deepEqual(
    seen,
    wanted.map((p) => ({ progressToken: 'legacy', ...p })),
  );

  const call = { name: 'progress-values', arguments: args, _meta: { progressToken: 'modern' } };
  const modernAnswer = await modern(sidecar.url, 'tools/call', call);
  assert.equal(textOf(modernAnswer.response!), `wrote ${params.length}`);
  assert.deepEqual(
    modernAnswer.messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params),
    wanted.map((p) => ({ progressToken: 'modern', ...p })),
  );

  assert.equal(await metric(sidecar.url, 'mcp_sidecar_child_stdout_garbage_lines_total'), 2 * bad.length);
  assert.match(sidecar.logs(), /notifications\/progress whose progress is not a finite number/);
  assert.match(sidecar.logs(), /notifications\/progress whose message is not a string/);
});
