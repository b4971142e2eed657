/**
 * A closed loop: each channel has exactly one call in flight and sends the next as soon as the reply is in
 * and checked. A warm-up phase first (JIT, connection pools, lazy allocation), then a measured window bounded in
 * time and in calls. Only calls that start and finish inside the window count toward calls/s and latency.
 */
import { performance } from 'node:perf_hooks';
import type { EchoChannel } from './load-client.js';

export interface ClosedLoopOptions {
  warmupMs: number;
  measureMs: number;
  /** Upper bound on measured calls: the window closes early when it is reached. */
  maxCalls: number;
  /** Tag that makes every message unique across cells. */
  tag: string;
  /** Called synchronously when the measured window opens and closes (CPU snapshots). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

export interface ClosedLoopResult {
  /** Calls verified inside the window. */
  calls: number;
  windowMs: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed or wrong replies during warm-up and window together: any of them is a correctness problem. */
  errors: number;
  errorSamples: string[];
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export async function runClosedLoop(channels: EchoChannel[], opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const latencies = new Float64Array(opts.maxCalls);
  let calls = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let windowStart = 0;
  let windowEnd = 0;

  const endWindow = () => {
    if (phase !== 'measure') return;
    windowEnd = performance.now();
    phase = 'done';
    opts.onWindowEnd?.();
  };
  let measureTimer: NodeJS.Timeout | undefined;
  const warmupTimer = setTimeout(() => {
    phase = 'measure';
    opts.onWindowStart?.();
    windowStart = performance.now();
    measureTimer = setTimeout(endWindow, opts.measureMs);
  }, opts.warmupMs);

  const loop = async (channel: EchoChannel, index: number) => {
    let seq = 0;
    while (phase !== 'done') {
      const message = `${opts.tag}-${index}-${seq++}`;
      const started = performance.now();
      try {
        const text = await channel.echo(message);
        if (text !== `Echo: ${message}`)
          throw new Error(`wrong reply: expected "Echo: ${message}", got ${JSON.stringify(text.slice(0, 120))}`);
        const finished = performance.now();
        if (phase === 'measure' && started >= windowStart) {
          latencies[calls++] = finished - started;
          if (calls >= opts.maxCalls) endWindow();
        }
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push((err as Error).message);
        // a bridge that fails instantly must not turn the loop into a busy spin
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };

  try {
    await Promise.all(channels.map((channel, index) => loop(channel, index)));
  } finally {
    clearTimeout(warmupTimer);
    if (measureTimer) clearTimeout(measureTimer);
  }
  const windowMs = windowEnd - windowStart;
  const sorted = latencies.subarray(0, calls).sort();
  return {
    calls,
    windowMs,
    callsPerSecond: windowMs > 0 ? (calls * 1000) / windowMs : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
    errorSamples,
  };
}
