/**
 * One cell of the table: one target at one concurrency C. Opens C sessions (C callers on the one pipe for the
 * direct stdio target), runs the closed loop, and takes the tree's CPU over exactly the measured window, its
 * peak RSS over the whole cell, and the load client's own CPU (to show it is not the bottleneck).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile, runClosedLoop, type ClosedLoopResult } from './closed-loop.js';
import { HttpMcpSession, type EchoChannel } from './load-client.js';
import { cpuDelta, machineBusyMs, RssSampler, treeCpu, type TreeCpu } from './process-stats.js';
import type { StartedTarget } from './targets.js';

export interface CellOptions {
  warmupMs: number;
  measureMs: number;
  maxCalls: number;
  callTimeoutMs: number;
}

export interface CellMeasurement extends ClosedLoopResult {
  /** CPU ms per measured call of the bridge process alone (0 for the direct stdio target). */
  bridgeCpuMsPerCall: number;
  /** CPU ms per measured call of the bridge's descendants (the MCP server, and shells in between). */
  childCpuMsPerCall: number;
  cpuMsPerCall: number;
  /** The benchmark process's own CPU per call: load client, parsing, verification, /proc sampling. */
  clientCpuMsPerCall: number;
  /** CPU cores' worth of other work on the machine during the window (other processes, not this benchmark). */
  otherLoadCores: number;
  peakRssMb: number;
  /** Peak RSS of the root process alone (the bridge; the server itself for the stdio target). */
  rootPeakRssMb: number;
  /** Time to open the C sessions (initialize + notifications/initialized, all C at once): p50 and max. */
  openP50Ms: number;
  openMaxMs: number;
}

export type CellResult = { ok: true; value: CellMeasurement } | { ok: false; reason: string };

/** Opens `count` sessions at once into `sessions` (so the caller can close whatever did open). */
async function openSessions(pool: Pool, path: string, count: number, timeoutMs: number, sessions: HttpMcpSession[]): Promise<Float64Array> {
  const openMs = new Float64Array(count);
  const results = await Promise.allSettled(
    Array.from({ length: count }, async (_, i) => {
      const session = new HttpMcpSession(pool, path, timeoutMs);
      sessions.push(session);
      const started = performance.now();
      await session.open();
      openMs[i] = performance.now() - started;
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw new Error(`opening ${count} sessions: ${(failed.reason as Error).message}`);
  return openMs;
}

export async function measureCell(target: StartedTarget, concurrency: number, tag: string, opts: CellOptions): Promise<CellResult> {
  const rss = new RssSampler(target.process.pid).start();
  const pool = target.mcpUrl
    ? new Pool(target.mcpUrl.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 })
    : undefined;
  const sessions: HttpMcpSession[] = [];
  let result: CellResult;
  try {
    result = await runCell(target, concurrency, tag, opts, pool, sessions);
  } catch (err) {
    result = { ok: false, reason: (err as Error).message };
  }
  await Promise.allSettled(sessions.map((s) => s.close()));
  await pool?.close();
  // the peak covers opening, warm-up, the window and closing
  const peakRssMb = rss.stop() / 1024;
  if (result.ok) {
    result.value.peakRssMb = peakRssMb;
    result.value.rootPeakRssMb = rss.rootPeakKb / 1024;
  }
  return result;
}

async function runCell(target: StartedTarget, concurrency: number, tag: string, opts: CellOptions, pool: Pool | undefined, sessions: HttpMcpSession[]): Promise<CellResult> {
  const root = target.process.pid;
  let channels: EchoChannel[];
  let openMs: Float64Array = new Float64Array(0);
  if (target.stdio) {
    channels = Array.from({ length: concurrency }, () => target.stdio!);
  } else {
    openMs = await openSessions(pool!, target.mcpUrl!.pathname, concurrency, opts.callTimeoutMs, sessions);
    channels = sessions;
  }

  let cpuBefore: TreeCpu = { rootMs: 0, descendantsMs: 0 };
  let cpuAfter: TreeCpu = cpuBefore;
  let clientBefore = process.cpuUsage();
  let clientAfter = clientBefore;
  let machineBefore = 0;
  let machineAfter = 0;
  const loop = await runClosedLoop(channels, {
    warmupMs: opts.warmupMs,
    measureMs: opts.measureMs,
    maxCalls: opts.maxCalls,
    tag,
    onWindowStart: () => {
      cpuBefore = treeCpu(root);
      clientBefore = process.cpuUsage();
      machineBefore = machineBusyMs();
    },
    onWindowEnd: () => {
      cpuAfter = treeCpu(root);
      clientAfter = process.cpuUsage();
      machineAfter = machineBusyMs();
    },
  });
  if (!target.process.running) return { ok: false, reason: `the process exited during the run: ${target.process.describeExit()}` };
  if (loop.calls === 0) return { ok: false, reason: `no call succeeded (${loop.errors} errors: ${loop.errorSamples.join('; ') || 'none recorded'})` };

  const cpu = cpuDelta(cpuBefore, cpuAfter);
  const bridgeMs = target.bridged ? cpu.rootMs : 0;
  const childMs = target.bridged ? cpu.descendantsMs : cpu.rootMs + cpu.descendantsMs;
  const clientMs = (clientAfter.user - clientBefore.user + clientAfter.system - clientBefore.system) / 1000;
  const otherMs = machineAfter - machineBefore - cpu.rootMs - cpu.descendantsMs - clientMs;
  const sortedOpen = openMs.slice().sort();
  return {
    ok: true,
    value: {
      ...loop,
      bridgeCpuMsPerCall: bridgeMs / loop.calls,
      childCpuMsPerCall: childMs / loop.calls,
      cpuMsPerCall: (bridgeMs + childMs) / loop.calls,
      clientCpuMsPerCall: clientMs / loop.calls,
      otherLoadCores: Math.max(0, otherMs / loop.windowMs),
      peakRssMb: 0,
      rootPeakRssMb: 0,
      openP50Ms: percentile(sortedOpen, 50),
      openMaxMs: sortedOpen.length ? sortedOpen[sortedOpen.length - 1] : NaN,
    },
  };
}
