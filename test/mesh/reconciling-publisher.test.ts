/**
 * The publisher skeleton alone, over an in-memory registry: what it does with the adapter's answers (converge,
 * fail, recover), how it backs off, how a withdrawal meets its deadline, and that it logs once per state change.
 * The real registries behind it are tested in consul-publisher, consul-tls and kong-contract.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReconcilingPublisher } from '../../sidecar/mesh/reconciling-publisher.js';
import type { RegistryAdapter, Step, Wanted } from '../../sidecar/mesh/registry-adapter.js';
import { sleep } from '../support/harness.js';
import { capturedLogger, testProfile } from '../support/mesh-fixtures.js';
import { waitFor } from '../support/sidecar-process.js';

/**
 * A registry in memory: it holds at most one profile (by toolsHash) and a health status. While `down`, every
 * request throws; `hang` makes remove() wait until aborted. Every call is recorded with its time.
 */
class MemoryRegistry implements RegistryAdapter {
  readonly kind = 'memory';
  readonly text = {
    name: 'Memory',
    where: { at: 'memory://' },
    converged: 'held again',
    entry: { serviceId: 'mem-1' },
    withdrawal: 'Memory removal',
    fallback: 'the memory registry forgets it at exit',
  };
  touched = false;
  down = false;
  hang = false;
  held: { hash: string; health?: string } | undefined;
  calls: Array<{ op: string; at: number }> = [];
  forgets = 0;
  aborted = 0;
  closed = 0;
  /** Fails the hung remove(), as closing the connections fails a request in flight. */
  private release: ((err: Error) => void) | undefined;

  constructor(readonly backoffMaxMs: number) {}

  async apply({ profile, health }: Wanted): Promise<Step> {
    this.calls.push({ op: 'apply', at: Date.now() });
    this.touched = true;
    if (this.down) throw new Error('memory registry is down (connect ECONNREFUSED)');
    const status = health?.value.status;
    if (this.held?.hash !== profile.toolsHash) {
      this.held = { hash: profile.toolsHash };
      return { converged: false, nextMs: 0 };
    }
    if (status && this.held.health !== status) this.held.health = status;
    return { converged: true, nextMs: Infinity };
  }

  forget(): void {
    this.forgets++;
  }

  async remove(): Promise<void> {
    this.calls.push({ op: 'remove', at: Date.now() });
    if (this.hang) await new Promise<void>((_, reject) => (this.release = reject));
    if (this.down) throw new Error('memory registry is down (connect ECONNREFUSED)');
    this.held = undefined;
  }

  abort(): void {
    this.aborted++;
  }

  close(): void {
    this.closed++;
    this.release?.(new Error('request aborted'));
  }

  applies(): number[] {
    return this.calls.filter((c) => c.op === 'apply').map((c) => c.at);
  }
}

function setup(backoffMaxMs = 2000) {
  const registry = new MemoryRegistry(backoffMaxMs);
  const captured = capturedLogger();
  const publisher = new ReconcilingPublisher(registry, captured.log);
  return { registry, publisher, ...captured };
}

describe('ReconcilingPublisher over an in-memory registry', () => {
  test('idle until published; a health report alone sends nothing; publish converges', async (t) => {
    const { registry, publisher } = setup();
    t.after(() => publisher.withdraw(500));
    assert.equal(publisher.status().state, 'idle');
    assert.equal(publisher.status().publisher, 'memory');
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await sleep(50);
    assert.equal(registry.calls.length, 0, 'nothing desired, nothing sent');

    publisher.publish(testProfile(['echo']));
    assert.equal(publisher.status().state, 'pending');
    await waitFor(() => publisher.status().state === 'published', 2000, 'published');
    assert.equal(registry.held?.hash, testProfile(['echo']).toolsHash);
    assert.equal(registry.held?.health, 'passing', 'the report before READY is applied with the profile');
    assert.equal(publisher.status().lastError, undefined);
  });

  test('failure → unreachable (logged once) → capped backoff with jitter → recovery (logged once)', async (t) => {
    const { registry, publisher, lines } = setup(600);
    t.after(() => publisher.withdraw(500));
    registry.down = true;
    publisher.publish(testProfile(['echo']));
    await waitFor(() => publisher.status().state === 'unreachable', 2000, 'unreachable');
    assert.match(publisher.status().lastError ?? '', /ECONNREFUSED/, 'the status names the error');

    await waitFor(() => registry.applies().length >= 6, 5000, 'six attempts');
    const at = registry.applies();
    const gaps = at.slice(1).map((time, i) => time - at[i]);
    // Backoff 250 ms doubling, capped at 600 ms, each between half and all of its step (timers may run late).
    const steps = [250, 500, 600, 600, 600];
    gaps.slice(0, steps.length).forEach((gap, i) => {
      assert.ok(gap >= steps[i] / 2 - 5 && gap <= steps[i] + 150, `retry ${i + 1} after ${gap} ms, step ${steps[i]}`);
    });
    assert.ok(registry.forgets >= 6, 'every failure makes the adapter forget its beliefs');
    const warnings = lines.filter((l) => l.level >= 40);
    assert.equal(warnings.length, 1, `one warning for the outage, got ${warnings.length}`);
    assert.match(
      warnings[0].msg,
      /^Memory unreachable or failing \(.*ECONNREFUSED.*\); the sidecar keeps serving, retrying with backoff up to 1 s$/,
    );
    assert.equal(warnings[0].at, 'memory://', 'the line says where the registry is');
    assert.ok(lines.filter((l) => l.msg === 'Memory still unreachable').length >= 5, 'each retry is a debug line');

    registry.down = false;
    await waitFor(() => publisher.status().state === 'published', 2000, 'published again');
    assert.equal(publisher.status().lastError, undefined);
    assert.equal(lines.filter((l) => l.msg === 'Memory reachable again; held again').length, 1);

    // The failure count was reset by the convergence: the next outage starts at the smallest delay again.
    registry.down = true;
    const before = registry.applies().length;
    publisher.publish(testProfile(['echo', 'add']));
    await waitFor(() => registry.applies().length >= before + 2, 2000, 'first retry of the second outage');
    const [first, second] = registry.applies().slice(before);
    assert.ok(second - first <= 250 + 150, `first retry after ${second - first} ms`);
    assert.equal(lines.filter((l) => l.level >= 40).length, 2, 'one more warning for the second outage');
  });

  test('a critical report is forgotten by the next publish (READY), and later reports still reach the adapter', async (t) => {
    const { registry, publisher } = setup();
    t.after(() => publisher.withdraw(500));
    publisher.publish(testProfile(['echo']));
    publisher.report({ status: 'critical', reason: 'exited' });
    await waitFor(() => registry.held?.health === 'critical', 2000, 'critical applied');
    publisher.publish(testProfile(['echo', 'add']));
    await waitFor(() => registry.held?.hash === testProfile(['echo', 'add']).toolsHash, 2000, 'new profile');
    assert.equal(registry.held?.health, undefined, 'no stale critical after READY');
    publisher.report({ status: 'passing', latencyMs: 2, toolCount: 2 });
    await waitFor(() => registry.held?.health === 'passing', 2000, 'passing applied');
  });

  test('withdraw: removes once and stops; nothing is published after it', async () => {
    const { registry, publisher } = setup();
    publisher.publish(testProfile(['echo']));
    await waitFor(() => publisher.status().state === 'published', 2000, 'published');
    await publisher.withdraw(1000);
    assert.equal(publisher.status().state, 'withdrawn');
    assert.equal(registry.held, undefined);
    assert.equal(registry.closed, 1, 'connections closed once');
    const calls = registry.calls.length;
    publisher.publish(testProfile(['echo']));
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await publisher.withdraw(1000);
    await sleep(50);
    assert.equal(registry.calls.length, calls, 'no request after a withdrawal');
  });

  test('withdraw before anything was sent resolves at once without a request', async () => {
    const { registry, publisher } = setup();
    await publisher.withdraw(1000);
    assert.equal(publisher.status().state, 'withdrawn');
    assert.equal(registry.calls.length, 0);
  });

  test('withdraw during backoff does not wait for the retry time', async () => {
    const { registry, publisher } = setup(30_000);
    registry.down = true;
    publisher.publish(testProfile(['echo']));
    // Enough failures that the next retry is seconds away.
    await waitFor(() => registry.applies().length >= 4, 5000, 'four failures');
    registry.down = false;
    const started = Date.now();
    await publisher.withdraw(3000);
    assert.equal(publisher.status().state, 'withdrawn');
    assert.ok(Date.now() - started < 500, `withdrawn after ${Date.now() - started} ms`);
    assert.ok(registry.aborted >= 1, 'the request in flight is aborted');
  });

  test('withdraw meets its deadline when the registry never answers, and says what happens instead', async () => {
    const { registry, publisher, lines } = setup();
    publisher.publish(testProfile(['echo']));
    await waitFor(() => publisher.status().state === 'published', 2000, 'published');
    registry.hang = true;
    const started = Date.now();
    await publisher.withdraw(300);
    const took = Date.now() - started;
    assert.ok(took >= 290 && took < 800, `withdraw returned after ${took} ms (deadline 300 ms)`);
    assert.notEqual(publisher.status().state, 'withdrawn', 'the removal did not happen');
    assert.equal(registry.closed, 1, 'the deadline stops the loop and closes the connections');
    const late = lines.filter((l) => l.level === 40);
    assert.equal(late.length, 1);
    assert.equal(
      late[0].msg,
      'Memory removal did not finish within 300 ms; continuing shutdown (the memory registry forgets it at exit)',
    );
    assert.equal(late[0].serviceId, 'mem-1');
  });

  test('an incomplete profile is ignored with one error line', async () => {
    const { registry, publisher, lines } = setup();
    publisher.publish({ tools: [], toolsHash: 'x' } as never);
    await sleep(50);
    assert.equal(publisher.status().state, 'idle');
    assert.equal(registry.calls.length, 0);
    assert.equal(lines.filter((l) => l.level === 50 && /incomplete server profile.*Memory/.test(l.msg)).length, 1);
    await publisher.withdraw(500);
  });

  test('status names the state and when it last changed', async () => {
    const { publisher } = setup();
    const idleSince = publisher.status().since;
    await sleep(5);
    publisher.publish(testProfile(['echo']));
    await waitFor(() => publisher.status().state === 'published', 2000, 'published');
    assert.ok(publisher.status().since > idleSince, 'since moves with each state change');
    await publisher.withdraw(500);
  });
});
