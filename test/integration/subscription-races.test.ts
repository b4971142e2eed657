/**
 * Resource subscriptions while the server has not answered yet (the fixture answers a test://slow… URI after
 * 500 ms): a subscribe on its way to the server, the listen stream's or a session's, is not a subscription the
 * server took, so nobody else is granted or confirmed the URI on the strength of it. A listen still waiting when
 * the sidecar shuts down ends as the open ones do, with its result.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { launch, session } from '../support/harness.js';
import { modern, modernStream } from '../support/modern-post.js';
import { atServer, atServerOnce, listenStream, subscribable } from '../support/subscriptions.js';

/** Opens a listen stream of `uris` (closed when the test ends) and resolves the URIs its acknowledgement grants. */
async function granted(t: TestContext, url: string, uris: string[], id: string): Promise<string[]> {
  const stream = await listenStream(t, url, uris, id);
  assert.equal(stream.status, 200, stream.body);
  const [ack] = await stream.waitForCount(1, 5000);
  return ack.data.params.notifications.resourceSubscriptions ?? [];
}

test('a URI refused while its listen still waits for another answer is not granted to the next listen', async (t) => {
  const sidecar = await launch(t, subscribable);
  // The first listen waits 500 ms for test://slow/a; test://refused/b was refused at once.
  const first = granted(t, sidecar.url, ['test://slow/a', 'test://refused/b'], 'first');
  await sleep(200);
  assert.deepEqual(await granted(t, sidecar.url, ['test://refused/b'], 'second'), [], 'the refused URI is not granted');
  assert.deepEqual(await first, ['test://slow/a']);
});

test("a session's subscribe while a listen's subscribe of the URI is unanswered reaches the server, and its refusal", async (t) => {
  const sidecar = await launch(t, subscribable);
  const uri = 'test://slow-refused/x';
  const listen = granted(t, sidecar.url, [uri], 'listen');
  await sleep(200);
  const client = await session(t, sidecar.url);
  const answer = await client.request('resources/subscribe', { uri });
  assert.equal(answer.error?.code, -32603, `the server refused it: ${JSON.stringify(answer)}`);
  assert.deepEqual(await listen, []);
});

test("a listen while a session's subscribe of the URI is unanswered is not granted what the server refuses", async (t) => {
  const sidecar = await launch(t, subscribable);
  const uri = 'test://slow-refused/y';
  const client = await session(t, sidecar.url);
  const subscribed = client.request('resources/subscribe', { uri });
  await sleep(200);
  assert.deepEqual(await granted(t, sidecar.url, [uri], 'listen'), [], 'the refused URI is not granted');
  assert.equal((await subscribed).error?.code, -32603);
  assert.deepEqual(await atServer(sidecar.url), [`subscribe ${uri}`, `subscribe ${uri}`]);
});

test('a listen still waiting for the server when the sidecar shuts down ends with its result', async (t) => {
  const sidecar = await launch(t, subscribable);
  const pending = modernStream(
    sidecar.url,
    'subscriptions/listen',
    { notifications: { resourceSubscriptions: ['test://slow/s'] } },
    'pending',
  );
  await sleep(150);
  process.kill(sidecar.pid, 'SIGTERM');
  const stream = await pending;
  await stream.ended();
  assert.equal(stream.status, 200, stream.body);
  assert.ok(
    stream.events.some((e) => e.data.id === 'pending' && 'result' in e.data),
    `no final result: ${stream.raw}`,
  );
});

test('a listen abandoned while the server answers its subscribe leaves nothing watched', async (t) => {
  const sidecar = await launch(t, subscribable);
  const uri = 'test://slow/abandoned';
  const abandoned = modern(
    sidecar.url,
    'subscriptions/listen',
    { notifications: { resourceSubscriptions: [uri] } },
    {},
    'gone',
    { signal: AbortSignal.timeout(100) },
  );
  await assert.rejects(abandoned, /aborted|timeout/i);
  const log = await atServerOnce(sidecar.url, 2, 'the unsubscribe after the abandoned listen was answered');
  assert.deepEqual(log, [`subscribe ${uri}`, `unsubscribe ${uri}`]);
});
