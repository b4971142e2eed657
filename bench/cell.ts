/**
 * One cell of the table: one target at one concurrency C. Opens C sessions (C stateless channels for a modern
 * target, C callers on the one pipe for the direct stdio target) and keeps them open for the cell's rounds. Each round is a closed loop with the tree's
 * CPU taken over exactly its measured window and the load client's own CPU (to show it is not the
 * bottleneck); peak RSS covers opening, every round and closing.
 *
 * Rounds exist because the machine may be shared: the run interleaves the targets' rounds at each C, and the
 * cell keeps its best round (highest calls/s, the one least disturbed by other work), with errors summed over
 * all rounds.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile, runClosedLoop, type ClosedLoopResult } from './closed-loop.js';
import { HttpMcpSession, type EchoChannel, type HttpEchoChannel } from './load-client.js';
import { cpuDelta, machineBusyMs, RssSampler, treeCpu, type TreeCpu } from './process-stats.js';
import { StatelessMcpClient } from './stateless-client.js';
import type { StartedTarget } from './targets.js';

export interface RoundOptions {
  warmupMs: number;
  measureMs: number;
  maxCalls: number;
}

export interface RoundMeasurement extends ClosedLoopResult {
  /** CPU ms per measured call of the bridge process alone (0 for the direct stdio target). */
  bridgeCpuMsPerCall: number;
  /** CPU ms per measured call of the bridge's descendants (the MCP server, and shells in between). */
  childCpuMsPerCall: number;
  cpuMsPerCall: number;
  /** The benchmark process's own CPU per call: load client, parsing, verification, /proc sampling. */
  clientCpuMsPerCall: number;
  /** CPU cores' worth of other work on the machine during the window (other processes, not this benchmark). */
  otherLoadCores: number;
}

export interface CellMeasurement extends RoundMeasurement {
  /** calls/s of every round, in order (the cell reports the best). */
  roundCallsPerSecond: number[];
  peakRssMb: number;
  /** Peak RSS of the root process alone (the bridge; the server itself for the stdio target). */
  rootPeakRssMb: number;
  /** Time to open the C channels (initialize + notifications/initialized, or one checked stateless call; all C at once): p50 and max. */
  openP50Ms: number;
  openMaxMs: number;
}

export type CellResult = { ok: true; value: CellMeasurement } | { ok: false; reason: string };
export type RoundResult = { ok: true; value: RoundMeasurement } | { ok: false; reason: string };

export class OpenCell {
  private readonly rounds: RoundResult[] = [];
  private openMs: Float64Array = new Float64Array(0);

  private constructor(
    readonly target: StartedTarget,
    readonly concurrency: number,
    private readonly channels: EchoChannel[],
    private readonly opened: HttpEchoChannel[],
    private readonly pool: Pool | undefined,
    private readonly rss: RssSampler,
  ) {}

  /**
   * Opens the cell's C channels, all at once: sessions (initialize + notifications/initialized), or for a
   * stateless target one checked call each. On failure, closes whatever did open and throws.
   */
  static async open(target: StartedTarget, concurrency: number, callTimeoutMs: number): Promise<OpenCell> {
    const rss = new RssSampler(target.process.pid).start();
    if (target.stdio) {
      const cell = new OpenCell(
        target,
        concurrency,
        Array.from({ length: concurrency }, () => target.stdio!),
        [],
        undefined,
        rss,
      );
      rss.pause();
      return cell;
    }
    const url = target.mcpUrl!;
    const pool = new Pool(url.origin, {
      connections: concurrency,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
    });
    const channels: HttpEchoChannel[] = Array.from({ length: concurrency }, () =>
      target.stateless
        ? new StatelessMcpClient(pool, url.pathname, callTimeoutMs)
        : new HttpMcpSession(pool, url.pathname, callTimeoutMs),
    );
    const openMs = new Float64Array(concurrency);
    const results = await Promise.allSettled(
      channels.map(async (channel, i) => {
        const started = performance.now();
        await channel.open();
        openMs[i] = performance.now() - started;
      }),
    );
    const cell = new OpenCell(target, concurrency, channels, channels, pool, rss);
    cell.openMs = openMs;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await cell.close();
      const what = target.stateless
        ? `the first call of ${concurrency} stateless channel(s)`
        : `opening ${concurrency} session(s)`;
      throw new Error(`${what}: ${(failed.reason as Error).message}`);
    }
    rss.pause();
    return cell;
  }

  async round(tag: string, opts: RoundOptions): Promise<RoundResult> {
    this.rss.resume();
    try {
      const result = await this.measureRound(tag, opts);
      this.rounds.push(result);
      return result;
    } catch (err) {
      const failed: RoundResult = { ok: false, reason: (err as Error).message };
      this.rounds.push(failed);
      return failed;
    } finally {
      this.rss.pause();
    }
  }

  private async measureRound(tag: string, opts: RoundOptions): Promise<RoundResult> {
    const root = this.target.process.pid;
    let cpuBefore: TreeCpu = { rootMs: 0, descendantsMs: 0 };
    let cpuAfter: TreeCpu = cpuBefore;
    let clientBefore = process.cpuUsage();
    let clientAfter = clientBefore;
    let machineBefore = 0;
    let machineAfter = 0;
    const loop = await runClosedLoop(this.channels, {
      ...opts,
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
    if (!this.target.process.running)
      return { ok: false, reason: `the process exited during the run: ${this.target.process.describeExit()}` };
    if (loop.calls === 0)
      return {
        ok: false,
        reason: `no call succeeded (${loop.errors} errors: ${loop.errorSamples.join('; ') || 'none recorded'})`,
      };

    const cpu = cpuDelta(cpuBefore, cpuAfter);
    const bridgeMs = this.target.bridged ? cpu.rootMs : 0;
    const childMs = this.target.bridged ? cpu.descendantsMs : cpu.rootMs + cpu.descendantsMs;
    const clientMs = (clientAfter.user - clientBefore.user + clientAfter.system - clientBefore.system) / 1000;
    const otherMs = machineAfter - machineBefore - cpu.rootMs - cpu.descendantsMs - clientMs;
    return {
      ok: true,
      value: {
        ...loop,
        bridgeCpuMsPerCall: bridgeMs / loop.calls,
        childCpuMsPerCall: childMs / loop.calls,
        cpuMsPerCall: (bridgeMs + childMs) / loop.calls,
        clientCpuMsPerCall: clientMs / loop.calls,
        otherLoadCores: Math.max(0, otherMs / loop.windowMs),
      },
    };
  }

  /** Closes the sessions (DELETE; stateless channels have none) and the pool, stops sampling memory, and sums up the cell. */
  async close(): Promise<CellResult> {
    this.rss.resume();
    await Promise.allSettled(this.opened.map((channel) => channel.close()));
    await this.pool?.close();
    const peakRssMb = this.rss.stop() / 1024;
    const good = this.rounds.filter((r): r is { ok: true; value: RoundMeasurement } => r.ok);
    if (good.length === 0) {
      const reasons = this.rounds.map((r) => (r.ok ? '' : r.reason)).filter(Boolean);
      return { ok: false, reason: reasons[0] ?? 'no round ran' };
    }
    const best = good.reduce((a, b) => (b.value.callsPerSecond > a.value.callsPerSecond ? b : a)).value;
    const failedRounds = this.rounds.length - good.length;
    const sortedOpen = this.openMs.slice().sort();
    return {
      ok: true,
      value: {
        ...best,
        // every error of every round counts, and a round that failed outright counts as one at least
        errors: good.reduce((sum, r) => sum + r.value.errors, 0) + failedRounds,
        errorSamples: [
          ...good.flatMap((r) => r.value.errorSamples),
          ...this.rounds.flatMap((r) => (r.ok ? [] : [r.reason])),
        ].slice(0, 3),
        roundCallsPerSecond: this.rounds.map((r) => (r.ok ? r.value.callsPerSecond : 0)),
        peakRssMb,
        rootPeakRssMb: this.rss.rootPeakKb / 1024,
        openP50Ms: percentile(sortedOpen, 50),
        openMaxMs: sortedOpen.length ? sortedOpen[sortedOpen.length - 1] : NaN,
      },
    };
  }
}
