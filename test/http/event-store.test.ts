/** Resumability store: ids per stream, replay after Last-Event-ID, bounds by count and bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventStore } from '../../sidecar/http/event-store.js';

test('ids are <stream>_<seq> and replay returns the same stream after the given id', () => {
  const store = new EventStore({ maxEvents: 100, maxBytes: 1_000_000 });
  const a1 = store.append(1, 'a1');
  store.append(0, 'g1');
  const a2 = store.append(1, 'a2');
  store.append(1, 'a3');
  assert.match(a1, /^1_\d+$/);
  assert.deepEqual(
    store.after(a1)!.events.map((e) => e.data),
    ['a2', 'a3'],
  );
  assert.deepEqual(
    store.after(a2)!.events.map((e) => e.data),
    ['a3'],
  );
  const g = store.after('0_0')!;
  assert.equal(g.stream, 0);
  assert.deepEqual(
    g.events.map((e) => e.data),
    ['g1'],
  );
});

test('unknown or malformed ids are refused (undefined), not answered with everything', () => {
  const store = new EventStore({ maxEvents: 10, maxBytes: 1000 });
  store.append(1, 'x');
  assert.equal(store.after('garbage'), undefined);
  assert.equal(store.after('1_999'), undefined, 'an id from the future is not ours');
  assert.equal(store.after(''), undefined);
});

test('the oldest events fall out past maxEvents, and a replay from before them reports a gap', () => {
  const store = new EventStore({ maxEvents: 3, maxBytes: 1_000_000 });
  const first = store.append(1, 'e1');
  for (let i = 2; i <= 6; i++) store.append(1, `e${i}`);
  const found = store.after(first)!;
  assert.deepEqual(
    found.events.map((e) => e.data),
    ['e4', 'e5', 'e6'],
  );
  assert.equal(found.gap, true);
  const recent = store.after('1_4')!;
  assert.equal(recent.gap, false);
});

test('the byte bound drops old events but always keeps the newest', () => {
  const store = new EventStore({ maxEvents: 1000, maxBytes: 10 });
  store.append(1, 'aaaaaa');
  store.append(1, 'bbbbbb');
  const big = store.append(1, 'c'.repeat(50));
  assert.deepEqual(
    store.after('1_0')!.events.map((e) => e.data.length),
    [50],
  );
  assert.deepEqual(store.after(big)!.events, []);
});

test('maxEvents 0 turns storage off but still numbers events', () => {
  const store = new EventStore({ maxEvents: 0, maxBytes: 1000 });
  assert.equal(store.enabled, false);
  const id = store.append(2, 'x');
  store.append(2, 'y');
  assert.deepEqual(store.after(id)!.events, []);
});
