/** Backoff (one formula for restarts and registry retries) and the restart policy's crash-loop breaker over a window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, RestartTracker } from '../../sidecar/child/backoff.js';

test('delays double from the minimum, with jitter between half and all of the step, capped at the maximum', () => {
  const tracker = new RestartTracker({ minDelayMs: 100, maxDelayMs: 1000, crashLoopFailures: 100, windowMs: 60_000 });
  const steps = [100, 200, 400, 800, 1000, 1000, 1000];
  let now = 0;
  for (const step of steps) {
    const delay = tracker.fail((now += 1));
    assert.ok(delay !== null);
    assert.ok(delay >= step / 2 && delay <= step, `delay ${delay} within [${step / 2}, ${step}]`);
  }
});

test('jitter spreads restarts: many trackers do not all pick the same delay', () => {
  const delays = new Set<number>();
  for (let i = 0; i < 50; i++)
    delays.add(
      new RestartTracker({ minDelayMs: 1000, maxDelayMs: 30_000, crashLoopFailures: 5, windowMs: 60_000 }).fail(0)!,
    );
  assert.ok(delays.size > 10, `only ${delays.size} distinct delays in 50`);
});

test('K failures inside the window is a crash loop: fail() returns null', () => {
  const tracker = new RestartTracker({ minDelayMs: 10, maxDelayMs: 100, crashLoopFailures: 3, windowMs: 10_000 });
  assert.notEqual(tracker.fail(1000), null);
  assert.notEqual(tracker.fail(2000), null);
  assert.equal(tracker.fail(3000), null);
  assert.equal(tracker.recentFailures(3000), 3);
});

test('failures older than the window are forgotten, and the backoff starts small again', () => {
  const tracker = new RestartTracker({ minDelayMs: 100, maxDelayMs: 10_000, crashLoopFailures: 3, windowMs: 10_000 });
  tracker.fail(0);
  tracker.fail(1000);
  assert.equal(tracker.recentFailures(10_500), 1);
  const delay = tracker.fail(20_000);
  assert.ok(delay !== null && delay <= 100, `fresh start after the window: ${delay}`);
  assert.equal(tracker.recentFailures(20_000), 1);
});

test('backoffDelay: the n-th failure waits half to all of min·2^(n-1), capped; a long outage stays at the cap', () => {
  for (const [failures, step] of [
    [0, 250],
    [1, 250],
    [2, 500],
    [3, 1000],
    [4, 1000],
    [60, 1000],
    [1e6, 1000],
  ] as const) {
    for (let i = 0; i < 20; i++) {
      const delay = backoffDelay(failures, 250, 1000);
      assert.ok(
        Number.isFinite(delay) && delay >= step / 2 && delay <= step,
        `failure ${failures}: ${delay} within [${step / 2}, ${step}]`,
      );
    }
  }
});
