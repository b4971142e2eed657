/**
 * `npm run bench`: every target in one invocation on the same machine, in front of the same server-everything
 * over stdio: the bridges all start first, then at each C each target runs in turn. Prints the markdown report on stdout (progress goes to stderr) and writes
 * it to bench/results/latest.md (with the raw numbers in latest.json; partial.md/.json for a narrowed run).
 *
 * Knobs (environment): BENCH_TARGETS=stdio,sidecar,sidecar-modern,sidecar-traced,supergateway,mcp-proxy,node-http-floor,sidecar-isolated
 * (a subset), BENCH_CONCURRENCY=1,32, BENCH_ROUNDS=3, BENCH_WARMUP_MS=1000, BENCH_REWARM_MS=300, BENCH_MEASURE_MS=1300
 * (per round), BENCH_MAX_CALLS=200000 (per round), BENCH_OPENS=50; BENCH_BASELINE=DIR adds the rows
 * sidecar-base and sidecar-modern-base, the sidecar built in DIR (a copy of an earlier dist/, inside the repository
 * so that it finds node_modules: `.cache/bench-base`, which git and the linters ignore): on a shared machine an A/B in one run, rounds interleaved, is the fair comparison.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OpenCell } from './cell.js';
import { renderReport, type MachineInfo, type RunSettings, type TargetOutcome } from './report.js';
import { measureSessionOpens } from './session-open.js';
import {
  mcpProxyTarget,
  nodeHttpFloorTarget,
  repoRoot,
  sidecarTarget,
  sidecarTracedTarget,
  stdioTarget,
  supergatewayTarget,
  type StartedTarget,
  type Target,
} from './targets.js';

interface PlanEntry {
  target: Target;
  /** Throughput cells to run (none for a target that is here only for session opens). */
  cells: boolean;
  opens?: { count: number; intervalMs: number };
}

/** The whole run must stay under 3 minutes on 2 cores; past this, remaining targets are skipped, not run. */
const RUN_BUDGET_MS = 170_000;

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] && Number.isFinite(value) && value > 0 ? value : fallback;
}

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  let node22 = 'node 22 (missing)';
  try {
    node22 = execFileSync(join(repoRoot, 'node_modules', 'node', 'bin', 'node'), ['-v'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as missing; the mcp-proxy row then says why it failed
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    node22,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    loadAverage: loadavg(),
  };
}

/** BENCH_BASELINE: the same two sidecar rows, from an earlier build. */
function baseline(): PlanEntry[] {
  const dir = process.env.BENCH_BASELINE;
  if (!dir) return [];
  const main = join(dir, 'sidecar', 'main.js');
  const env = async () => process.env;
  return [
    { target: sidecarTarget('sidecar-base', 'mcp-sidecar (baseline)', [], false, env, main), cells: true },
    {
      target: sidecarTarget('sidecar-modern-base', 'stateless 2026-07-28 (baseline)', [], true, env, main),
      cells: true,
    },
  ];
}

function plan(opens: number): PlanEntry[] {
  const all: PlanEntry[] = [
    { target: stdioTarget, cells: true },
    { target: sidecarTarget(), cells: true, opens: { count: opens, intervalMs: 50 } },
    // a sidecar of its own, started like the one above, so each era's row has its own CPU and memory
    { target: sidecarTarget('sidecar-modern', 'mcp-sidecar, stateless 2026-07-28', [], true), cells: true },
    // every supergateway session boots a server child (~0.3 s), so fewer opens at a slower pace
    // the same sidecar with every call traced and exported: the cost per call of tracing
    { target: sidecarTracedTarget, cells: true },
    { target: supergatewayTarget, cells: true, opens: { count: Math.min(opens, 10), intervalMs: 500 } },
    { target: mcpProxyTarget, cells: true, opens: { count: opens, intervalMs: 50 } },
    { target: nodeHttpFloorTarget, cells: true },
    ...baseline(),
    {
      target: sidecarTarget('sidecar-isolated', 'mcp-sidecar --session-mode isolated --warm 2', [
        '--session-mode',
        'isolated',
        '--warm',
        '2',
      ]),
      cells: false,
      opens: { count: opens, intervalMs: 500 },
    },
  ];
  const only = process.env.BENCH_TARGETS?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return only ? all.filter((e) => only.includes(e.target.id)) : all;
}

/** A plan entry on its way through the run: its outcome so far and, once started, its processes. */
interface Running {
  entry: PlanEntry;
  outcome: TargetOutcome;
  started?: StartedTarget;
}

const OUT_OF_TIME = 'skipped: the run used up its time budget';

async function startTarget(run: Running, deadline: number): Promise<void> {
  const { target } = run.entry;
  if (performance.now() > deadline) {
    run.outcome.startError = OUT_OF_TIME;
    return;
  }
  progress(`${target.label}: starting`);
  try {
    run.started = await target.start();
  } catch (err) {
    run.outcome.startError = (err as Error).message;
    progress(`${target.label}: failed to start: ${run.outcome.startError}`);
  }
}

async function stopTarget(run: Running): Promise<void> {
  if (!run.started) return;
  run.outcome.leftovers = await run.started.process.stop();
  run.started = undefined;
}

/**
 * C-major and interleaved: at each C every target opens its sessions, then round 1 runs on each target in turn,
 * then round 2, and so on, so the cells compared in a ratio were measured seconds apart, under the same
 * conditions (other work on a shared machine drifts over a whole run).
 */
async function runCells(runs: Running[], settings: RunSettings, deadline: number): Promise<void> {
  for (const c of settings.concurrency) {
    const open = new Map<Running, OpenCell>();
    for (const run of runs) {
      if (!run.started) continue;
      if (performance.now() > deadline) {
        run.outcome.cells.set(c, { ok: false, reason: OUT_OF_TIME });
        continue;
      }
      if (!run.started.process.running) {
        run.outcome.cells.set(c, { ok: false, reason: `not running: ${run.started.process.describeExit()}` });
        continue;
      }
      try {
        open.set(run, await OpenCell.open(run.started, c, settings.callTimeoutMs));
      } catch (err) {
        run.outcome.cells.set(c, { ok: false, reason: (err as Error).message });
        progress(`${run.entry.target.label} C=${c}: failed: ${(err as Error).message}`);
      }
    }
    for (let round = 0; round < settings.rounds && performance.now() < deadline; round++) {
      for (const [run, cell] of open) {
        if (!run.started?.process.running) continue;
        const warmupMs = round === 0 ? settings.warmupMs : settings.rewarmMs;
        const result = await cell.round(`${run.entry.target.id}-c${c}-r${round}`, {
          warmupMs,
          measureMs: settings.measureMs,
          maxCalls: settings.maxCalls,
        });
        progress(
          result.ok
            ? `${run.entry.target.label} C=${c} round ${round + 1}: ${result.value.callsPerSecond.toFixed(0)} calls/s, p50 ${result.value.p50Ms.toFixed(2)} ms, ` +
                `p99 ${result.value.p99Ms.toFixed(2)} ms, errors ${result.value.errors}, CPU ${result.value.cpuMsPerCall.toFixed(3)} ms/call ` +
                `(bridge ${result.value.bridgeCpuMsPerCall.toFixed(3)}), other load ${result.value.otherLoadCores.toFixed(2)}`
            : `${run.entry.target.label} C=${c} round ${round + 1}: failed: ${result.reason}`,
        );
      }
    }
    for (const [run, cell] of open) {
      const result = await cell.close();
      run.outcome.cells.set(c, result);
      if (result.ok)
        progress(
          `${run.entry.target.label} C=${c}: best ${result.value.callsPerSecond.toFixed(0)} calls/s, peak RSS ${result.value.peakRssMb.toFixed(0)} MB`,
        );
    }
  }
}

async function runOpens(run: Running, settings: RunSettings, deadline: number): Promise<void> {
  const { target, opens } = run.entry;
  if (!opens || !run.started?.mcpUrl || !run.started.process.running) return;
  if (performance.now() > deadline) {
    run.outcome.opens = { result: { error: OUT_OF_TIME }, intervalMs: opens.intervalMs };
    return;
  }
  // a moment for warm spares to finish booting (isolated mode) before the first open
  await new Promise((r) => setTimeout(r, 1000));
  try {
    const maxTotalMs = Math.min(opens.count * opens.intervalMs + 5000, deadline - performance.now());
    const result = await measureSessionOpens(run.started, { ...opens, timeoutMs: settings.callTimeoutMs, maxTotalMs });
    run.outcome.opens = { result, intervalMs: opens.intervalMs };
    progress(
      `${target.label}: ${result.opens} session opens, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}`,
    );
  } catch (err) {
    run.outcome.opens = { result: { error: (err as Error).message }, intervalMs: opens.intervalMs };
  }
}

async function runPlan(entries: PlanEntry[], settings: RunSettings, deadline: number): Promise<TargetOutcome[]> {
  const runs: Running[] = entries.map((entry) => ({
    entry,
    outcome: {
      id: entry.target.id,
      label: entry.target.label,
      throughput: entry.cells,
      cells: new Map(),
      leftovers: [],
    },
  }));
  // Interrupted (Ctrl-C, a CI timeout): stop every tree we started before going.
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the targets`);
    void Promise.allSettled(runs.map(stopTarget)).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const throughputRuns = runs.filter((r) => r.entry.cells);
    for (const run of throughputRuns) await startTarget(run, deadline);
    await runCells(throughputRuns, settings, deadline);
    // then session opens, one target at a time (opens-only targets start here, so they sat through nothing)
    for (const run of runs) {
      if (run.entry.opens) {
        if (!run.entry.cells) await startTarget(run, deadline);
        await runOpens(run, settings, deadline);
      }
      await stopTarget(run);
    }
  } finally {
    for (const run of runs) await stopTarget(run);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  return runs.map((r) => r.outcome);
}

async function main(): Promise<void> {
  const began = performance.now();
  const deadline = began + RUN_BUDGET_MS;
  const settings: RunSettings = {
    warmupMs: envNumber('BENCH_WARMUP_MS', 1000),
    rewarmMs: envNumber('BENCH_REWARM_MS', 300),
    measureMs: envNumber('BENCH_MEASURE_MS', 1300),
    rounds: envNumber('BENCH_ROUNDS', 3),
    maxCalls: envNumber('BENCH_MAX_CALLS', 200_000),
    // C = 1 and 32 by default: with six rows at each C, a third C would push the run past its time budget
    concurrency: (process.env.BENCH_CONCURRENCY ?? '1,32')
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0),
    callTimeoutMs: 10_000,
  };
  const machine = machineInfo();
  const outcomes = await runPlan(plan(envNumber('BENCH_OPENS', 50)), settings, deadline);

  const report = renderReport(machine, settings, outcomes, (performance.now() - began) / 1000);
  process.stdout.write(report);
  // A run narrowed by BENCH_TARGETS or BENCH_CONCURRENCY must not replace the full table the README quotes.
  const name = process.env.BENCH_TARGETS || process.env.BENCH_CONCURRENCY ? 'partial' : 'latest';
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.md`), report);
  const raw = outcomes.map((o) => ({ ...o, cells: Object.fromEntries(o.cells) }));
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ machine, settings, outcomes: raw }, null, 2) + '\n');
  progress(`wrote ${join(dir, `${name}.md`)} and .json`);
}

main().catch((err) => {
  progress(`failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
