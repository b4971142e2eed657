/**
 * Resource subscriptions held for listen streams with `--workers 2`: each URI is held at one server process, and
 * released at that process, whichever one a request would be sent to at the time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { launch } from '../support/harness.js';
import { modern, modernStream } from '../support/modern-post.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

/** A sidecar of two fault-tools processes that append what each receives to a file, once both are ready. */
async function twoWorkers(t: TestContext, extra: string[] = []) {
  const file = join(mkdtempSync(join(tmpdir(), 'subscriptions-')), 'log');
  const sidecar = await launch(t, [
    '--workers',
    '2',
    ...extra,
    '--',
    ...fixtureCommand('fault-tools', '--subscribable', '--subscription-file', file),
  ]);
  const workers = async (): Promise<Array<{ state: string; pid: number }>> =>
    (await (await fetch(`${sidecar.url}/readyz`)).json()).workers ?? [];
  await waitFor(
    async () => {
      const all = await workers();
      return all.length === 2 && all.every((w) => w.state === 'ready');
    },
    20_000,
    'both server processes ready',
  );
  const lines = () => readFileSync(file, 'utf8').trim().split('\n');
  return { sidecar, workers, lines };
}

async function listen(t: TestContext, url: string, uri: string) {
  const stream = await modernStream(url, 'subscriptions/listen', { notifications: { resourceSubscriptions: [uri] } });
  t.after(() => stream.close());
  const [ack] = await stream.waitForCount(1, 5000);
  assert.deepEqual(ack.data.params.notifications.resourceSubscriptions, [uri]);
  return stream;
}

test('--workers 2: a listen stream releases its URI at the process that holds it, not at the one a request picks now', async (t) => {
  const { sidecar, lines } = await twoWorkers(t);
  const uri = 'test://held';
  const stream = await listen(t, sidecar.url, uri);
  const [holder, subscribed] = lines()[0].split(' ', 2);
  assert.equal(subscribed, 'subscribe');
  // A slow call makes the holder the busier process: a request picked now would go to the other one.
  const busy = modern(sidecar.url, 'tools/call', { name: 'slow', arguments: { ms: 1500 } }, {}, 'busy');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await stream.close();
  const released = await waitFor(
    () => lines().find((line) => line.endsWith(`unsubscribe ${uri}`)),
    5000,
    'the unsubscribe after the only listener went',
  );
  assert.equal(released, `${holder} unsubscribe ${uri}`, `released at the holder ${holder}:\n${lines().join('\n')}`);
  assert.equal((await busy).response?.error, undefined);
});

test('--workers 2: when the holding process exits, the other one takes its listened URIs over at once', async (t) => {
  // A slow restart: the takeover must not wait for it.
  const { sidecar, workers, lines } = await twoWorkers(t, ['--restart-min', '10s']);
  const uri = 'test://moved';
  const stream = await listen(t, sidecar.url, uri);
  const holder = Number(lines()[0].split(' ')[0]);
  const other = (await workers()).find((w) => w.pid !== holder)!.pid;
  process.kill(holder, 'SIGKILL');
  await waitFor(
    () => lines().includes(`${other} subscribe ${uri}`),
    5000,
    `the subscribe at the other process (${other})`,
  );
  // An update from the process that holds the URI now reaches the listener.
  const touched = await modern(sidecar.url, 'tools/call', { name: 'touch', arguments: { uri } }, {}, 'touch');
  assert.equal(touched.response?.error, undefined, JSON.stringify(touched.response));
  const [, update] = await stream.waitForCount(2, 5000);
  assert.equal(update.data.method, 'notifications/resources/updated');
  assert.equal(update.data.params.uri, uri);
});

test('--workers 2: the holder exits while a listen waits for its subscribe: the other one holds the URI, and releases it', async (t) => {
  const { sidecar, workers, lines } = await twoWorkers(t, ['--restart-min', '10s']);
  const uri = 'test://slow/waited';
  const opening = modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: [uri] },
  });
  const first = await waitFor(() => readLines(lines)[0], 5000, 'the subscribe at one process');
  const holder = Number(first.split(' ')[0]);
  const other = (await workers()).find((w) => w.pid !== holder)!.pid;
  process.kill(holder, 'SIGKILL');
  const stream = await opening;
  t.after(() => stream.close());
  const [ack] = await stream.waitForCount(1, 5000);
  assert.deepEqual(ack.data.params.notifications.resourceSubscriptions, [uri], 'an exit is no refusal');
  await waitFor(() => lines().includes(`${other} subscribe ${uri}`), 5000, `the subscribe at ${other}`);
  await modern(sidecar.url, 'tools/call', { name: 'touch', arguments: { uri } }, {}, 'touch');
  const [, update] = await stream.waitForCount(2, 5000);
  assert.equal(update.data.params.uri, uri);
  await stream.close();
  await waitFor(() => lines().includes(`${other} unsubscribe ${uri}`), 5000, `the unsubscribe at ${other}`);
  assert.equal(lines().filter((l) => l.includes('subscribe')).length, 3, lines().join('\n'));
});

/** The lines so far, none while the file is not there yet. */
function readLines(lines: () => string[]): string[] {
  try {
    return lines().filter(Boolean);
  } catch {
    return [];
  }
}

test('--workers 2: a process that takes a listened URI over and refuses it ends the streams granted it, without a result', async (t) => {
  const { sidecar, workers, lines } = await twoWorkers(t, ['--restart-min', '10s']);
  // Refused by any process but the first to take it (the fixture reads the shared file): a resource gone.
  const gone = 'test://once-only/report';
  const stream = await modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: [gone, 'test://kept'] },
  });
  t.after(() => stream.close());
  const [ack] = await stream.waitForCount(1, 5000);
  assert.deepEqual(ack.data.params.notifications.resourceSubscriptions, [gone, 'test://kept']);
  const holder = Number(lines()[0].split(' ')[0]);
  const other = (await workers()).find((w) => w.pid !== holder)!.pid;
  process.kill(holder, 'SIGKILL');
  let ended = false;
  void stream.ended().then(() => (ended = true));
  await waitFor(() => ended, 10_000, 'the end of the stream granted a URI the server no longer takes');
  assert.ok(lines().includes(`${other} subscribe ${gone}`), `the takeover asked: ${lines().join('\n')}`);
  assert.ok(
    stream.events.every((e) => e.data.id === undefined),
    `cut, not ended with the listen's result: ${JSON.stringify(stream.events)}`,
  );
  // The log line may reach the test's pipe after the stream's end.
  await waitFor(
    () => /refused to subscribe again to a resource listen streams watched/.test(sidecar.logs()),
    5000,
    'the warning that says why the stream ended',
  );
  // The client listens again and is told what it gets now; the URI is asked for again, not taken as watched.
  const again = await modernStream(
    sidecar.url,
    'subscriptions/listen',
    { notifications: { resourceSubscriptions: [gone, 'test://kept'] } },
    2,
  );
  t.after(() => again.close());
  const [second] = await again.waitForCount(1, 5000);
  assert.deepEqual(second.data.params.notifications.resourceSubscriptions, ['test://kept']);
  assert.equal(lines().filter((l) => l.endsWith(` subscribe ${gone}`)).length, 3, lines().join('\n'));
});
