/**
 * Era detection at start (era-probe.ts), on real processes: a legacy server is still found legacy, and the probe
 * costs it about one round trip (a silent one waits the probe cap once, then the remembered era skips the probe);
 * a modern-only server is found modern; the era shows in /readyz and the log; and a modern server's liveness is
 * `server/discover` (it has no ping): it stays ready while it answers, and a server stopped with SIGSTOP is
 * marked unhealthy, then killed as hung and restarted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../sidecar/log.js';
import { PROBE_TIMEOUT_MS, type EraMemory } from '../../sidecar/mcp/era-probe.js';
import { Worker, type WorkerOptions } from '../../sidecar/mcp/worker.js';
import { launch } from '../support/harness.js';
import { fixtureCommand, readyz, waitFor } from '../support/sidecar-process.js';

const QUIET = createLogger('silent');

function options(command: string[], era: EraMemory): WorkerOptions {
  return {
    child: {
      command: command[0],
      args: command.slice(1),
      env: { PATH: process.env.PATH ?? '' },
      maxMessageBytes: 1 << 24,
    },
    handshakeTimeoutMs: 10_000,
    pingIntervalMs: 60_000,
    pingTimeoutMs: 1000,
    pingMisses: 2,
    clientInfo: { name: 'era-test', version: '1' },
    era,
  };
}

/** Starts a worker, returns how long it took to be READY and its profile's era; the process is stopped. */
async function start(command: string[], era: EraMemory): Promise<{ ms: number; era: string; tools: number }> {
  const began = performance.now();
  const worker = await new Worker(options(command, era), QUIET).ready();
  const ms = performance.now() - began;
  const result = { ms, era: worker.profile.era, tools: worker.profile.tools.length };
  await worker.stop({ stdinGraceMs: 1000, termGraceMs: 1000 });
  return result;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test('a legacy server is found legacy; probing it costs about one round trip, not the probe cap', async (t) => {
  const legacy = fixtureCommand('paged-tools');
  const probed: number[] = [];
  const known: number[] = [];
  // Interleaved, so that load on the machine hits both alike.
  for (let i = 0; i < 5; i++) {
    const memory: EraMemory = {};
    const first = await start(legacy, memory);
    assert.equal(first.era, 'legacy');
    assert.equal(memory.era, 'legacy', 'the era is remembered');
    probed.push(first.ms);
    known.push((await start(legacy, { era: 'legacy' })).ms);
  }
  const overhead = median(probed) - median(known);
  t.diagnostic(
    `legacy start to READY, median of 5: ${median(probed).toFixed(1)} ms probed, ${median(known).toFixed(1)} ms with the era known (+${overhead.toFixed(1)} ms)`,
  );
  assert.ok(
    overhead < 150,
    `the probe made a legacy start ${overhead.toFixed(1)} ms slower (probed ${probed.map((m) => m.toFixed(0)).join(', ')}; known ${known.map((m) => m.toFixed(0)).join(', ')})`,
  );
});

test('a legacy server silent before initialize: the first start waits the probe cap once, later starts do not', async (t) => {
  const silent = fixtureCommand('paged-tools', '--silent-before-initialize');
  const memory: EraMemory = {};
  const first = await start(silent, memory);
  assert.equal(first.era, 'legacy');
  assert.equal(memory.era, 'legacy');
  assert.ok(first.ms >= PROBE_TIMEOUT_MS, `the first start waited for the probe (${first.ms.toFixed(0)} ms)`);
  const again = await start(silent, memory);
  assert.equal(again.era, 'legacy');
  assert.ok(again.ms < PROBE_TIMEOUT_MS, `a restart goes straight to initialize (${again.ms.toFixed(0)} ms)`);
  t.diagnostic(`silent legacy server: first start ${first.ms.toFixed(0)} ms, restart ${again.ms.toFixed(0)} ms`);
});

test('a modern-only server is found modern by server/discover, and a wrong remembered era is corrected', async () => {
  const modern = fixtureCommand('modern-conformance-server');
  const memory: EraMemory = {};
  const found = await start(modern, memory);
  assert.equal(found.era, 'modern');
  assert.equal(memory.era, 'modern');
  assert.ok(found.tools > 20, `every page of tools/list was read (${found.tools})`);
  // Remembered wrongly (legacy): initialize gets the server's modern error, and the sidecar probes after all.
  const corrected: EraMemory = { era: 'legacy' };
  assert.equal((await start(modern, corrected)).era, 'modern');
  assert.equal(corrected.era, 'modern');
});

test('modern server: /readyz and the log name the era; liveness by server/discover; SIGSTOP → unhealthy → restarted', async (t) => {
  const sidecar = await launch(t, [
    ...['--ping-interval', '200ms', '--ping-timeout', '300ms', '--ping-misses', '3'],
    ...['--restart-min', '100ms', '--', ...fixtureCommand('modern-conformance-server')],
  ]);
  assert.equal(sidecar.readyBody?.worker.era, 'modern');
  assert.match(sidecar.logs(), /"era":"modern"/);
  const pid = sidecar.readyBody?.worker.pid as number;
  // The server answers no ping (-32601): were liveness a ping, it would be unhealthy within one interval.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const alive = await readyz(sidecar.url);
  assert.equal(alive.status, 200, JSON.stringify(alive.body));
  assert.equal(alive.body.worker.state, 'ready');
  assert.ok(alive.body.worker.lastPing, 'a liveness check (server/discover) succeeded');

  process.kill(pid, 'SIGSTOP');
  // Left stopped until the sidecar kills it (SIGKILL ends a stopped process); resumed after, should it survive.
  t.after(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone, as it should be
    }
  });
  const unhealthy = await waitFor(
    async () => {
      const r = await readyz(sidecar.url);
      return r.body.worker?.pid === pid && r.body.worker?.state === 'unhealthy' ? r : undefined;
    },
    5000,
    'the stopped server to be marked unhealthy',
  );
  assert.equal(unhealthy.status, 503, 'not ready while its liveness check fails');
  assert.match(unhealthy.body.reason, /missed its last MCP ping/, 'the reason says what is wrong');
  const restarted = await waitFor(
    async () => {
      const r = await readyz(sidecar.url);
      return r.status === 200 && r.body.worker?.pid !== pid ? r : undefined;
    },
    10_000,
    'the hung server to be killed and a new one to be ready',
  );
  assert.equal(restarted.body.worker.era, 'modern');
  assert.match(sidecar.logs(), /stopped answering: 3 pings in a row/);
});
