/**
 * Session-open time: one session at a time, opened (initialize + notifications/initialized), checked with one
 * echo call, closed with DELETE. Opens are paced at a fixed interval: in isolated mode every open takes a warm
 * spare child and the pool boots a replacement, so back-to-back opens would measure the boot time of the server
 * rather than the handover the warm pool is for. The pace is printed next to the numbers.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile } from './closed-loop.js';
import { HttpMcpSession } from './load-client.js';
import { processTree, RssSampler } from './process-stats.js';
import type { StartedTarget } from './targets.js';

export interface SessionOpenOptions {
  count: number;
  intervalMs: number;
  timeoutMs: number;
  /** Stop early once this much time has passed (the whole run has a time budget). */
  maxTotalMs: number;
}

export interface SessionOpenMeasurement {
  opens: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  errorSamples: string[];
  peakRssMb: number;
  /** Processes in the tree before the first open and after the last close (warm spares included). */
  processesBefore: number;
  processesAfter: number;
}

export async function measureSessionOpens(
  target: StartedTarget,
  opts: SessionOpenOptions,
): Promise<SessionOpenMeasurement> {
  const url = target.mcpUrl!;
  const pool = new Pool(url.origin, { connections: 2, keepAliveTimeout: 60_000 });
  const root = target.process.pid;
  const rss = new RssSampler(root).start();
  const processesBefore = processTree(root).length;
  const times: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const began = performance.now();
  try {
    for (let i = 0; i < opts.count && performance.now() - began < opts.maxTotalMs; i++) {
      const slot = began + i * opts.intervalMs;
      const wait = slot - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const session = new HttpMcpSession(pool, url.pathname, opts.timeoutMs);
      try {
        const started = performance.now();
        await session.open();
        const opened = performance.now() - started;
        const message = `open-${i}`;
        const text = await session.echo(message);
        if (text !== `Echo: ${message}`)
          throw new Error(`wrong reply after open: ${JSON.stringify(text.slice(0, 120))}`);
        times.push(opened);
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push((err as Error).message);
      } finally {
        await session.close().catch(() => undefined);
      }
    }
  } finally {
    await pool.close();
  }
  // give the sidecar a moment to stop the children of the closed sessions before counting what is left
  await new Promise((r) => setTimeout(r, 500));
  const processesAfter = processTree(root).length;
  const sorted = Float64Array.from(times).sort();
  return {
    opens: times.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    errors,
    errorSamples,
    peakRssMb: rss.stop() / 1024,
    processesBefore,
    processesAfter,
  };
}
