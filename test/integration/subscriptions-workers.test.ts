/**
 * Resource subscriptions held for listen streams with `--workers 2`: each URI is held at one server process, and
 * released at that process, whichever one a request would be sent to at the time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launch } from '../support/harness.js';
import { modern, modernStream } from '../support/modern-post.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

test('--workers 2: a listen stream releases its URI at the process that holds it, not at the one a request picks now', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'subscriptions-')), 'log');
  const sidecar = await launch(t, [
    '--workers',
    '2',
    '--',
    ...fixtureCommand('fault-tools', '--subscribable', '--subscription-file', file),
  ]);
  await waitFor(
    async () => {
      const body = await (await fetch(`${sidecar.url}/readyz`)).json();
      return body.workers?.length === 2 && body.workers.every((w: { state: string }) => w.state === 'ready');
    },
    20_000,
    'both server processes ready',
  );
  const lines = () => readFileSync(file, 'utf8').trim().split('\n');
  const uri = 'test://held';
  const stream = await modernStream(sidecar.url, 'subscriptions/listen', {
    notifications: { resourceSubscriptions: [uri] },
  });
  t.after(() => stream.close());
  const [ack] = await stream.waitForCount(1, 5000);
  assert.deepEqual(ack.data.params.notifications.resourceSubscriptions, [uri]);
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
