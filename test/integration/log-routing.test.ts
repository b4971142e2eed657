/**
 * Server log notifications in shared mode. stdio does not say which request a `notifications/message` belongs
 * to, and a log line may carry a caller's data: it goes to the one caller in flight, to every session that asked
 * for its level when nothing is in flight, and to the sidecar's own log when several callers are in flight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, session, sleep, SseReader, textOf } from '../support/harness.js';
import { modern } from '../support/modern-post.js';
import { CAN_ELICIT } from '../support/mrtr-calls.js';
import type { JsonRpcMessage } from '../support/sidecar-process.js';
import { fixtureCommand, readyz, waitFor } from '../support/sidecar-process.js';

const logLines = (messages: JsonRpcMessage[]) =>
  messages.filter((m) => m.method === 'notifications/message').map((m) => m.params.data);

test('shared mode: a log line reaches the one caller in flight; with two callers in flight it reaches neither and the sidecar logs it', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const a = await session(t, sidecar.url);
  const b = await session(t, sidecar.url);
  for (const client of [a, b]) assert.ok((await client.request('logging/setLevel', { level: 'info' })).result);

  const alone: JsonRpcMessage[] = [];
  await callTool(a, 'slow', { ms: 150, steps: 3, tag: 'alone', log: true }, { onMessage: (m) => alone.push(m) });
  assert.deepEqual(
    logLines(alone),
    ['alone step 1', 'alone step 2', 'alone step 3'],
    'the only caller gets its log lines on its own stream',
  );

  const seenB: JsonRpcMessage[] = [];
  const bCall = callTool(b, 'slow', { ms: 3000, steps: 1, tag: 'other' }, { onMessage: (m) => seenB.push(m) });
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, "b's call to be in flight");
  const seenA: JsonRpcMessage[] = [];
  assert.equal(
    textOf(
      await callTool(a, 'slow', { ms: 150, steps: 3, tag: 'mine', log: true }, { onMessage: (m) => seenA.push(m) }),
    ),
    'done mine',
  );
  assert.equal(textOf(await bCall), 'done other');
  assert.deepEqual(logLines(seenA), [], 'not guessed at a');
  assert.deepEqual(logLines(seenB), [], 'never handed to b, whose call was also in flight');
  for (const step of [1, 2, 3])
    assert.match(sidecar.logs(), new RegExp(`"serverLog":\\{[^}]*"data":"mine step ${step}"`));
  assert.match(sidecar.logs(), /a server log line kept here: several clients have calls in flight/);
});

test('a session whose server restarted has the new process told its log level before its next call', async (t) => {
  const sidecar = await launch(t, ['--restart-min', '200ms', '--', ...fixtureCommand('fault-tools')]);
  const a = await session(t, sidecar.url);
  const b = await session(t, sidecar.url);
  assert.ok((await a.request('logging/setLevel', { level: 'warning' })).result);
  assert.ok((await b.request('logging/setLevel', { level: 'debug' })).result);
  assert.equal(textOf(await callTool(a, 'log-level', {})), '"debug"', 'the most verbose level of its sessions');
  const pid: number = (await readyz(sidecar.url)).body.worker.pid;
  process.kill(pid, 'SIGKILL');
  await waitFor(
    async () => {
      const r = await readyz(sidecar.url);
      return r.status === 200 && r.body.worker.pid !== pid;
    },
    10_000,
    'the restarted server',
  );
  // a moves first: the new process needs a's level (b, still at the old one, has not asked it for anything yet).
  assert.equal(textOf(await callTool(a, 'log-level', {})), '"warning"');
  assert.equal(textOf(await callTool(b, 'log-level', {})), '"debug"');
});

test("shared mode: a log line while the only call waits for its client's input (MRTR) is kept here, not broadcast", async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const other = await session(t, sidecar.url);
  assert.ok((await other.request('logging/setLevel', { level: 'debug' })).result);
  const stream = await SseReader.open(sidecar.url, other.headers());
  t.after(() => stream.close());
  // A modern call that asked for the client's name: parked, nobody waiting on it.
  const asked = await modern(sidecar.url, 'tools/call', { name: 'ask-log-ask', arguments: {}, ...CAN_ELICIT });
  assert.equal(asked.response!.result?.resultType, 'input_required', JSON.stringify(asked.response));
  // Lines the server sends on its own (after notify-later's call is answered): the parked call may be whose.
  assert.equal(textOf(await callTool(other, 'notify-later', { count: 2, intervalMs: 100 })), 'sending 2');
  const kept = () =>
    (sidecar.logs().match(/the only calls on this shared process wait for their clients' input/g) ?? []).length;
  const broadcast = () => logLines(stream.events.map((e) => e.data)).length;
  await waitFor(() => kept() + broadcast() === 2, 5000, 'both lines, kept here or sent');
  await sleep(100);
  assert.deepEqual(logLines(stream.events.map((e) => e.data)), [], 'not broadcast to the session that asked for logs');
  assert.equal(kept(), 2, 'both kept in the sidecar log');
});
