/**
 * The subscription tests' view of the fault-tools fixture with `--subscribable`: what its server received, and
 * listen streams closed when the test ends.
 */
import type { TestContext } from 'node:test';
import { textOf } from './harness.js';
import { modern, modernStream } from './modern-post.js';
import { fixtureCommand, waitFor } from './sidecar-process.js';

/** The sidecar's arguments for a fault-tools server that takes resource subscriptions. */
export const subscribable = ['--', ...fixtureCommand('fault-tools', '--subscribable')];

/** What the fixture server received: "subscribe <uri>" and "unsubscribe <uri>", in order. */
export async function atServer(url: string): Promise<string[]> {
  return JSON.parse(textOf((await modern(url, 'tools/call', { name: 'resource-subscriptions' })).response!));
}

/** What the fixture server received, once it is `atLeast` lines long (waited for, `what` naming why). */
export function atServerOnce(url: string, atLeast: number, what: string): Promise<string[]> {
  return waitFor(
    async () => {
      const seen = await atServer(url);
      return seen.length >= atLeast ? seen : undefined;
    },
    5000,
    what,
  );
}

/** A listen stream of `uris`, closed when the test ends. */
export async function listenStream(t: TestContext, url: string, uris: string[], id: string) {
  const stream = await modernStream(
    url,
    'subscriptions/listen',
    { notifications: { resourceSubscriptions: uris } },
    id,
  );
  t.after(() => stream.close());
  return stream;
}
