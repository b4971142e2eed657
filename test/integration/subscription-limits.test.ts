/**
 * Resource subscriptions held for clients, in both eras: what one client may make the sidecar and the server hold
 * (at most 256 distinct URIs per session or listen stream, each at most 2048 characters), and a subscribe the
 * server refused leaves nobody believing the server watches the URI.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, session } from '../support/harness.js';
import { modern, modernStream } from '../support/modern-post.js';
import { waitFor } from '../support/sidecar-process.js';
import { atServer, atServerOnce, listenStream, subscribable } from '../support/subscriptions.js';

test('legacy: a subscribe the server refused is not recorded, so the next session asking for it reaches the server', async (t) => {
  const sidecar = await launch(t, subscribable);
  const uri = 'test://refused-once/a';
  const [a, b] = [await session(t, sidecar.url), await session(t, sidecar.url)];
  const refused = await a.request('resources/subscribe', { uri });
  assert.equal(refused.error?.code, -32603, 'the server refused the first subscribe');
  const accepted = await b.request('resources/subscribe', { uri });
  assert.deepEqual(accepted.result, {});
  assert.deepEqual(await atServer(sidecar.url), [`subscribe ${uri}`, `subscribe ${uri}`], "b's subscribe reached it");
  // The accepted one is recorded: a third session's subscribe is the sidecar's own bookkeeping.
  const c = await session(t, sidecar.url);
  assert.deepEqual((await c.request('resources/subscribe', { uri })).result, {});
  assert.equal((await atServer(sidecar.url)).length, 2);
});

test('legacy: a session holds at most 256 subscriptions, of URIs at most 2048 characters; refusals reach no server', async (t) => {
  const sidecar = await launch(t, subscribable);
  const client = await session(t, sidecar.url);
  for (let i = 0; i < 256; i++)
    assert.deepEqual((await client.request('resources/subscribe', { uri: `test://r/${i}` })).result, {}, `uri ${i}`);
  const again = await client.request('resources/subscribe', { uri: 'test://r/7' });
  assert.deepEqual(again.result, {}, 'a URI the session already holds is not one more');
  const over = await client.request('resources/subscribe', { uri: 'test://r/256' });
  assert.equal(over.error?.code, -32602);
  assert.match(over.error!.message, /at most 256 resource subscriptions per session; unsubscribe from one first/);
  const long = await client.request('resources/subscribe', { uri: `test://${'x'.repeat(2048)}` });
  assert.equal(long.error?.code, -32602);
  assert.match(long.error!.message, /at most 2048 characters \(this one has 2055\)/);
  const log = await atServer(sidecar.url);
  assert.equal(log.filter((line) => line.startsWith('subscribe ')).length, 257, '256 first subscribes and the repeat');
  assert.ok(!log.includes('subscribe test://r/256'));
  // Room again after an unsubscribe.
  assert.deepEqual((await client.request('resources/unsubscribe', { uri: 'test://r/0' })).result, {});
  assert.deepEqual((await client.request('resources/subscribe', { uri: 'test://r/256' })).result, {});
});

test('subscriptions/listen: repeated URIs count once; more than 256, or one too long, is refused before any reaches the server', async (t) => {
  const sidecar = await launch(t, subscribable);
  const uris = Array.from({ length: 257 }, (_, i) => `test://l/${i}`);
  const over = await modern(sidecar.url, 'subscriptions/listen', { notifications: { resourceSubscriptions: uris } });
  assert.equal(over.response?.error?.code, -32602);
  assert.match(over.response!.error!.message, /at most 256 resource subscriptions per listen stream/);
  const long = await modern(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: [`test://${'y'.repeat(3000)}`] },
  });
  assert.equal(long.response?.error?.code, -32602);
  assert.deepEqual(await atServer(sidecar.url), [], 'nothing was subscribed at the server');

  // 300 entries naming 256 URIs fit; the acknowledgement grants each once, and each reaches the server once.
  const repeated = [...uris.slice(0, 256), ...uris.slice(0, 44)];
  const stream = await modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: repeated },
  });
  t.after(() => stream.close());
  assert.equal(stream.status, 200, stream.body);
  const [ack] = await stream.waitForCount(1, 5000);
  assert.deepEqual(ack.data.params.notifications.resourceSubscriptions, uris.slice(0, 256));
  assert.equal((await atServer(sidecar.url)).length, 256);
});

test('legacy: a subscribe and an unsubscribe of one URI in one batch leave it unwatched, so the next subscribe reaches the server', async (t) => {
  const sidecar = await launch(t, subscribable);
  const uri = 'test://batched';
  const a = await session(t, sidecar.url);
  const res = await fetch(`${sidecar.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': a.sessionId!,
      'mcp-protocol-version': a.protocolVersion,
    },
    body: JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri } },
      { jsonrpc: '2.0', id: 2, method: 'resources/unsubscribe', params: { uri } },
    ]),
  });
  assert.equal(res.status, 200);
  await res.text();
  assert.deepEqual(await atServer(sidecar.url), [`subscribe ${uri}`, `unsubscribe ${uri}`]);
  const b = await session(t, sidecar.url);
  assert.deepEqual((await b.request('resources/subscribe', { uri })).result, {});
  assert.deepEqual(
    await atServer(sidecar.url),
    [`subscribe ${uri}`, `unsubscribe ${uri}`, `subscribe ${uri}`],
    "a's answered subscribe was not recorded after its unsubscribe: b's reached the server",
  );
});

test('subscriptions/listen: at most 4096 distinct URIs over all streams; past that 503 with -32005, a stream of watched URIs still fits', async (t) => {
  const sidecar = await launch(t, subscribable);
  const open = (uris: string[], id: string) => listenStream(t, sidecar.url, uris, id);
  for (let s = 0; s < 16; s++) {
    const stream = await open(
      Array.from({ length: 256 }, (_, i) => `test://g/${s}/${i}`),
      `s${s}`,
    );
    assert.equal(stream.status, 200, stream.body);
  }
  const over = await open(['test://g/new'], 'over');
  assert.equal(over.status, 503, over.body);
  const refusal = JSON.parse(over.body);
  assert.equal(refusal.error.code, -32005);
  assert.match(
    refusal.error.message,
    /watch 4096 resources already and this one adds 1; the sidecar watches at most 4096/,
  );
  const again = await open(['test://g/0/0', 'test://g/15/255'], 'again');
  assert.equal(again.status, 200, 'URIs already watched add nothing');
});

test('subscriptions/listen abandoned while the server restarts: nothing stays watched', async (t) => {
  const sidecar = await launch(t, ['--restart-min', '500ms', ...subscribable]);
  const uri = 'test://abandoned';
  const serverPid = async () => (await (await fetch(`${sidecar.url}/readyz`)).json()).worker?.pid;
  const pid = await serverPid();
  process.kill(pid, 'SIGKILL');
  // The listens wait for the restarting server (--ready-wait); their clients give up long before.
  for (const [i, ms] of [50, 100, 150].entries()) {
    const abandoned = modern(
      sidecar.url,
      'subscriptions/listen',
      { notifications: { resourceSubscriptions: [uri] } },
      {},
      `gone-${i}`,
      { signal: AbortSignal.timeout(ms) },
    );
    await assert.rejects(abandoned, /aborted|timeout/i);
  }
  await waitFor(
    async () => (await fetch(`${sidecar.url}/readyz`)).status === 200 && (await serverPid()) !== pid,
    10_000,
    'the restarted server',
  );
  // A new listener is the only one: the server is subscribed for it, and released when it goes.
  const stream = await modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: [uri] },
  });
  assert.equal(stream.status, 200, stream.body);
  await stream.waitForCount(1, 5000);
  assert.deepEqual(await atServer(sidecar.url), [`subscribe ${uri}`]);
  await stream.close();
  const released = await atServerOnce(
    sidecar.url,
    2,
    'the unsubscribe after the only listener went (an abandoned listen would keep the URI watched)',
  );
  assert.deepEqual(released, [`subscribe ${uri}`, `unsubscribe ${uri}`]);
});

test("a restarted server is subscribed again to what the sidecar's clients watch: a session's URI and a listen stream's", async (t) => {
  const sidecar = await launch(t, ['--restart-min', '200ms', ...subscribable]);
  const client = await session(t, sidecar.url);
  assert.deepEqual((await client.request('resources/subscribe', { uri: 'test://by-session' })).result, {});
  const stream = await modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: ['test://by-listen'] },
  });
  t.after(() => stream.close());
  await stream.waitForCount(1, 5000);
  const serverPid = async () => (await (await fetch(`${sidecar.url}/readyz`)).json()).worker?.pid;
  const pid = await serverPid();
  process.kill(pid, 'SIGKILL');
  await waitFor(
    async () => (await fetch(`${sidecar.url}/readyz`)).status === 200 && (await serverPid()) !== pid,
    10_000,
    'the restarted server',
  );
  const log = await atServerOnce(sidecar.url, 2, 'the subscribes at the new server');
  assert.deepEqual([...log].sort(), ['subscribe test://by-listen', 'subscribe test://by-session']);
  // And its updates reach the listener again.
  await modern(sidecar.url, 'tools/call', { name: 'touch', arguments: { uri: 'test://by-listen' } });
  const [, update] = await stream.waitForCount(2, 5000);
  assert.equal(update.data.params.uri, 'test://by-listen');
});

test('subscriptions/listen: the acknowledgement grants only the URIs the server took; a refused one stays unwatched', async (t) => {
  const sidecar = await launch(t, subscribable);
  const refused = 'test://refused/a';
  const listen = async (uris: string[], id: string) => {
    const stream = await listenStream(t, sidecar.url, uris, id);
    assert.equal(stream.status, 200, stream.body);
    const [ack] = await stream.waitForCount(1, 5000);
    assert.equal(ack.data.method, 'notifications/subscriptions/acknowledged');
    return { stream, granted: ack.data.params.notifications.resourceSubscriptions };
  };
  const first = await listen(['test://watched', refused], 'first');
  assert.deepEqual(first.granted, ['test://watched'], 'the refused URI is left out of the acknowledgement');
  // Refused is not watched: the next listen asking for it reaches the server again (and is refused again).
  const second = await listen([refused], 'second');
  assert.deepEqual(second.granted, []);
  assert.deepEqual(await atServer(sidecar.url), [
    'subscribe test://watched',
    `subscribe ${refused}`,
    `subscribe ${refused}`,
  ]);
  // Two listens asking for the same refused URI at once: one subscribe may serve both; neither is granted it.
  const both = await Promise.all([listen(['test://refused/b'], 'c1'), listen(['test://refused/b'], 'c2')]);
  assert.deepEqual(
    both.map((l) => l.granted),
    [[], []],
  );
  // A refusal that does not last (test://refused-once…): the next listen is granted the URI.
  assert.deepEqual((await listen(['test://refused-once/l'], 'once-1')).granted, []);
  assert.deepEqual((await listen(['test://refused-once/l'], 'once-2')).granted, ['test://refused-once/l']);
  // Only what the server took is released when its listener goes.
  await first.stream.close();
  const released = await waitFor(
    async () => {
      const log = await atServer(sidecar.url);
      return log.includes('unsubscribe test://watched') ? log : undefined;
    },
    5000,
    'the unsubscribe of test://watched after its only listener went',
  );
  assert.ok(!released.some((line) => line.startsWith('unsubscribe test://refused')), released.join('\n'));
});
