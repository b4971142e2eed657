/**
 * Requests that take too long are answered with -32001 and cancelled at the server (notifications/cancelled
 * reaches it), progress keeps a long request alive, and a client's own cancellation is forwarded: a legacy
 * client's notifications/cancelled, a modern client's closed response stream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, rest, session, textOf, within } from '../support/harness.js';
import { modernStream } from '../support/modern-post.js';
import { fixtureCommand, readyz, waitFor } from '../support/sidecar-process.js';

type Cancellation = { requestId: string | number; reason?: string };

test('--request-timeout: -32001 to the client, notifications/cancelled to the server; REST gets 504', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '300ms', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const started = performance.now();
  const response = await callTool(client, 'slow', { ms: 3000, steps: 1 }, { id: 'late' });
  const elapsed = performance.now() - started;
  t.diagnostic(`timed out after ${Math.round(elapsed)} ms (--request-timeout 300ms)`);
  assert.equal(response.id, 'late');
  assert.equal(response.error?.code, -32001, JSON.stringify(response));
  assert.match(
    response.error.message,
    /did not answer tools\/call within 0\.3s \(--request-timeout\); the sidecar cancelled it at the server/,
  );
  assert.ok(elapsed < 2500, 'answered by the timeout, not by the server finishing');

  const cancellations = JSON.parse(textOf(await callTool(client, 'cancellations'))) as Cancellation[];
  assert.equal(cancellations.length, 1, JSON.stringify(cancellations));
  assert.equal(typeof cancellations[0].requestId, 'number', 'the server sees its own (rewritten) id');
  assert.match(cancellations[0].reason ?? '', /timed out after 0\.3s/);

  const viaRest = await rest(sidecar.url, 'slow', { ms: 3000, steps: 1 });
  assert.equal(viaRest.status, 504);
  assert.match(viaRest.body.error, /--request-timeout/);
  assert.equal((await readyz(sidecar.url)).body.inflight, 0, 'nothing left in flight');
});

test('progress resets the timeout: a long call that keeps reporting completes', async (t) => {
  const sidecar = await launch(t, ['--request-timeout', '300ms', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  let progress = 0;
  const response = await client.request(
    'tools/call',
    { name: 'slow', arguments: { ms: 1200, steps: 12 }, _meta: { progressToken: 'keep-alive' } },
    { onMessage: (m) => void (m.method === 'notifications/progress' && progress++) },
  );
  assert.equal(textOf(response), 'done', JSON.stringify(response));
  assert.equal(progress, 12);
});

test('a client cancellation is forwarded to the server and ends that request without a response', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const pending = callTool(client, 'slow', { ms: 5000, steps: 1 }, { id: 'c1' }).then(
    (r) => ({ response: r }),
    (err: Error) => ({ error: err.message }),
  );
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, 'the call in flight');
  const status = await client.notify('notifications/cancelled', { requestId: 'c1', reason: 'the user gave up' });
  assert.equal(status, 202);
  const outcome = await within(pending, 3000);
  assert.ok(outcome, 'the cancelled request kept its POST open');
  assert.deepEqual(outcome, { error: 'tools/call: the stream ended without a response for id "c1"' });

  const cancellations = JSON.parse(textOf(await callTool(client, 'cancellations'))) as Cancellation[];
  assert.equal(cancellations.length, 1, JSON.stringify(cancellations));
  assert.equal(cancellations[0].reason, 'the user gave up');
  assert.equal((await readyz(sidecar.url)).body.inflight, 0);

  // Cancelling what already finished (or never existed) is harmless.
  assert.equal(await client.notify('notifications/cancelled', { requestId: 'c1' }), 202);
  assert.equal(await client.notify('notifications/cancelled', { requestId: 'never-sent' }), 202);
  assert.deepEqual(JSON.parse(textOf(await callTool(client, 'echo', { ok: true }))), { ok: true });
  assert.equal(
    JSON.parse(textOf(await callTool(client, 'cancellations'))).length,
    1,
    'nothing more reached the server',
  );
});

test('a modern (2026-07-28) client closing its response stream cancels the request at the server', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')]);
  const stream = await modernStream(sidecar.url, 'tools/call', {
    name: 'slow',
    arguments: { ms: 30_000, steps: 300 },
    _meta: { progressToken: 'p' },
  });
  const [first] = await stream.waitForCount(1, 5000);
  assert.equal(first.data.method, 'notifications/progress', 'the answer is a stream and the call is under way');
  await stream.close();
  // The revision has no cancel message over HTTP: the closed stream is the signal, the server hears it on stdio.
  const cancellations = await waitFor(
    async () => {
      const seen = JSON.parse(textOf((await rest(sidecar.url, 'cancellations', {})).body)) as Cancellation[];
      return seen.length > 0 ? seen : undefined;
    },
    5000,
    'notifications/cancelled at the server',
  );
  assert.equal(cancellations.length, 1, JSON.stringify(cancellations));
  assert.match(cancellations[0].reason ?? '', /the client closed the response stream/);
  assert.equal((await readyz(sidecar.url)).body.inflight, 0, 'nothing left in flight');
});
