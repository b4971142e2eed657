/**
 * The streams of MCP 2026-07-28 through the sidecar in front of a legacy stdio server: a request's own response
 * stream (its progress, and the log lines it asked for, at or above its level) and `subscriptions/listen`
 * (acknowledged, then the opted-in list changes and resource updates tagged with the subscription id, keep-alive
 * comments between), for which the sidecar holds the server's resource subscriptions.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { launch, textOf } from '../support/harness.js';
import { modern, modernStream } from '../support/modern-post.js';
import { fixtureCommand, waitFor, type SseEvent } from '../support/sidecar-process.js';

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
const LOG_LEVEL = 'io.modelcontextprotocol/logLevel';

/** Opens a listen stream (closed after the test) and checks its acknowledgement grants what was asked. */
async function listen(t: TestContext, url: string, id: string, notifications: Record<string, unknown>) {
  const stream = await modernStream(url, 'subscriptions/listen', { notifications }, id);
  t.after(() => stream.close());
  assert.equal(stream.status, 200, stream.body);
  const [ack] = await stream.waitForCount(1, 5000);
  assert.equal(ack.data.method, 'notifications/subscriptions/acknowledged');
  assert.deepEqual(ack.data.params.notifications, notifications);
  assert.equal(ack.data.params._meta[SUBSCRIPTION_ID], id);
  return stream;
}

test('per-request logging and progress on the request stream: log lines only when asked, at or above the level asked', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const asked = await modern(sidecar.url, 'tools/call', {
    name: 'slow',
    arguments: { ms: 100, steps: 2, tag: 'm', log: true },
    _meta: { progressToken: 'pt', [LOG_LEVEL]: 'info' },
  });
  assert.equal(asked.headers.get('content-type'), 'text/event-stream');
  assert.deepEqual(
    asked.messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params.progressToken),
    ['pt', 'pt'],
  );
  assert.equal(asked.messages.filter((m) => m.method === 'notifications/message').length, 2);
  const silent = await modern(sidecar.url, 'tools/call', {
    name: 'slow',
    arguments: { ms: 100, steps: 2, tag: 'n', log: true },
  });
  assert.equal(
    silent.messages.filter((m) => m.method === 'notifications/message').length,
    0,
    'no logLevel, no log lines',
  );

  const levels = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
  const warned = await modern(sidecar.url, 'tools/call', {
    name: 'log-levels',
    arguments: { levels },
    _meta: { [LOG_LEVEL]: 'warning' },
  });
  assert.equal(textOf(warned.response!), `logged ${levels.length}`);
  assert.deepEqual(
    warned.messages.filter((m) => m.method === 'notifications/message').map((m) => m.params.data),
    ['warning', 'error', 'critical', 'alert', 'emergency'],
    'warning and above, nothing below',
  );
});

test('subscriptions/listen: acknowledged, then the opted-in list change tagged with the subscription id; keep-alive comments between', async (t) => {
  const sidecar = await launch(t, ['--keep-alive', '100ms', '--', ...fixtureCommand('fault-tools')]);
  const stream = await listen(t, sidecar.url, 'sub-1', { toolsListChanged: true });
  await modern(sidecar.url, 'tools/call', { name: 'grow', arguments: { name: 'late' } });
  const [, changed] = await stream.waitForCount(2, 5000);
  assert.equal(changed.data.method, 'notifications/tools/list_changed');
  assert.equal(changed.data.params._meta[SUBSCRIPTION_ID], 'sub-1');
  await waitFor(() => /^: keep-alive$/m.test(stream.raw), 5000, 'a keep-alive comment on the listen stream');
});

test('subscriptions/listen of a resource: the sidecar subscribes at the server for its first listener, delivers resources/updated to each, and unsubscribes after the last', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools', '--subscribable')]);
  const uri = 'test://watched';
  const asked = { resourceSubscriptions: [uri] };
  // The server's own record. A request reaches it after every one the sidecar sent before (one stdin, in
  // order), so reading it right after a listen is acknowledged, or closed, shows what that did at the server.
  const atServer = async (): Promise<string[]> =>
    JSON.parse(textOf((await modern(sidecar.url, 'tools/call', { name: 'resource-subscriptions' })).response!));
  const touch = (touched: string) => modern(sidecar.url, 'tools/call', { name: 'touch', arguments: { uri: touched } });
  const updates = (events: SseEvent[]) =>
    events.slice(1).map((e) => `${e.data.method} ${e.data.params.uri} ${e.data.params._meta[SUBSCRIPTION_ID]}`);

  const a = await listen(t, sidecar.url, 'a', asked);
  assert.deepEqual(await atServer(), [`subscribe ${uri}`]);
  await touch('test://not-listened');
  await touch(uri);
  assert.deepEqual(updates(await a.waitForCount(2, 5000)), [`notifications/resources/updated ${uri} a`]);

  const b = await listen(t, sidecar.url, 'b', asked);
  assert.deepEqual(await atServer(), [`subscribe ${uri}`], 'a second listener does not subscribe again');
  await touch(uri);
  assert.equal(updates(await a.waitForCount(3, 5000))[1], `notifications/resources/updated ${uri} a`);
  assert.deepEqual(updates(await b.waitForCount(2, 5000)), [`notifications/resources/updated ${uri} b`]);

  await a.close();
  assert.deepEqual(await atServer(), [`subscribe ${uri}`], 'b still listens: the server keeps the subscription');
  await touch(uri);
  assert.equal(updates(await b.waitForCount(3, 5000))[1], `notifications/resources/updated ${uri} b`);
  await b.close();
  const released = await waitFor(
    async () => {
      const log = await atServer();
      return log.length > 1 ? log : undefined;
    },
    5000,
    'the unsubscribe after the last listener went',
  );
  assert.deepEqual(released, [`subscribe ${uri}`, `unsubscribe ${uri}`]);
});
