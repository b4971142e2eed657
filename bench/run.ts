/**
 * `npm run bench`: every target in one invocation, one after the other on the same machine, in front of the
 * same server-everything over stdio. Prints the markdown report on stdout (progress goes to stderr) and writes
 * it to bench/results/latest.md (with the raw numbers in latest.json).
 *
 * Knobs (environment): BENCH_TARGETS=null-responder,stdio,sidecar,supergateway,mcp-proxy,sidecar-isolated (a subset),
 * BENCH_CONCURRENCY=1,8,32, BENCH_WARMUP_MS=1000, BENCH_MEASURE_MS=4000, BENCH_MAX_CALLS=200000,
 * BENCH_OPENS=50.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { measureCell, type CellOptions } from './cell.js';
import { renderReport, type ClientCeiling, type MachineInfo, type RunSettings, type TargetOutcome } from './report.js';
import { measureSessionOpens } from './session-open.js';
import { mcpProxyTarget, nullResponderTarget, repoRoot, sidecarTarget, stdioTarget, supergatewayTarget, type Target } from './targets.js';

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

function plan(opens: number): PlanEntry[] {
  const all: PlanEntry[] = [
    { target: stdioTarget, cells: true },
    { target: sidecarTarget(), cells: true, opens: { count: opens, intervalMs: 50 } },
    // every supergateway session boots a server child (~0.3 s), so fewer opens at a slower pace
    { target: supergatewayTarget, cells: true, opens: { count: Math.min(opens, 10), intervalMs: 500 } },
    { target: mcpProxyTarget, cells: true, opens: { count: opens, intervalMs: 50 } },
    {
      target: sidecarTarget('sidecar-isolated', 'mcp-sidecar --session-mode isolated --warm 2', ['--session-mode', 'isolated', '--warm', '2']),
      cells: false,
      opens: { count: opens, intervalMs: 500 },
    },
  ];
  const only = process.env.BENCH_TARGETS?.split(',').map((s) => s.trim()).filter(Boolean);
  return only ? all.filter((e) => only.includes(e.target.id)) : all;
}

async function runTarget(entry: PlanEntry, settings: RunSettings, cellOptions: CellOptions, deadline: number): Promise<TargetOutcome> {
  const { target } = entry;
  const outcome: TargetOutcome = { id: target.id, label: target.label, throughput: entry.cells, cells: new Map(), leftovers: [] };
  if (performance.now() > deadline) {
    outcome.startError = 'skipped: the run used up its time budget';
    return outcome;
  }
  progress(`${target.label}: starting`);
  let started;
  try {
    started = await target.start();
  } catch (err) {
    outcome.startError = (err as Error).message;
    progress(`${target.label}: failed to start: ${outcome.startError}`);
    return outcome;
  }
  try {
    if (entry.cells) {
      for (const c of settings.concurrency) {
        if (performance.now() > deadline) {
          outcome.cells.set(c, { ok: false, reason: 'skipped: the run used up its time budget' });
          continue;
        }
        const cell = await measureCell(started, c, `${target.id}-c${c}`, cellOptions);
        outcome.cells.set(c, cell);
        progress(
          cell.ok
            ? `${target.label} C=${c}: ${cell.value.callsPerSecond.toFixed(0)} calls/s, p50 ${cell.value.p50Ms.toFixed(2)} ms, p99 ${cell.value.p99Ms.toFixed(2)} ms, ` +
                `errors ${cell.value.errors}, CPU ${cell.value.cpuMsPerCall.toFixed(3)} ms/call, RSS ${cell.value.peakRssMb.toFixed(0)} MB`
            : `${target.label} C=${c}: failed: ${cell.reason}`,
        );
        if (!started.process.running) break;
      }
    }
    if (entry.opens && started.mcpUrl && started.process.running && performance.now() < deadline) {
      // a moment for warm spares to finish booting (isolated mode) before the first open
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const maxTotalMs = Math.min(entry.opens.count * entry.opens.intervalMs + 5000, deadline - performance.now());
        const result = await measureSessionOpens(started, { ...entry.opens, timeoutMs: cellOptions.callTimeoutMs, maxTotalMs });
        outcome.opens = { result, intervalMs: entry.opens.intervalMs };
        progress(`${target.label}: ${result.opens} session opens, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}`);
      } catch (err) {
        outcome.opens = { result: { error: (err as Error).message }, intervalMs: entry.opens.intervalMs };
      }
    }
  } finally {
    outcome.leftovers = await started.process.stop();
  }
  return outcome;
}

/** A short run at the highest C against the null responder: the load client's own ceiling on this machine. */
async function measureClientCeiling(settings: RunSettings, cellOptions: CellOptions): Promise<ClientCeiling> {
  const concurrency = Math.max(...settings.concurrency);
  progress(`${nullResponderTarget.label}: starting`);
  let started;
  try {
    started = await nullResponderTarget.start();
  } catch (err) {
    return { concurrency, result: { ok: false, reason: (err as Error).message } };
  }
  try {
    const result = await measureCell(started, concurrency, 'ceiling', { ...cellOptions, warmupMs: 500, measureMs: 2000 });
    if (result.ok) progress(`${nullResponderTarget.label} C=${concurrency}: ${result.value.callsPerSecond.toFixed(0)} calls/s, client ${result.value.clientCpuMsPerCall.toFixed(3)} ms/call`);
    return { concurrency, result };
  } finally {
    await started.process.stop();
  }
}

async function main(): Promise<void> {
  const began = performance.now();
  const deadline = began + RUN_BUDGET_MS;
  const settings: RunSettings = {
    warmupMs: envNumber('BENCH_WARMUP_MS', 1000),
    measureMs: envNumber('BENCH_MEASURE_MS', 4000),
    maxCalls: envNumber('BENCH_MAX_CALLS', 200_000),
    concurrency: (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0),
  };
  const cellOptions: CellOptions = { ...settings, callTimeoutMs: 10_000 };
  const machine = machineInfo();
  const only = process.env.BENCH_TARGETS;
  const ceiling = !only || only.split(',').includes(nullResponderTarget.id) ? await measureClientCeiling(settings, cellOptions) : undefined;
  const outcomes: TargetOutcome[] = [];
  for (const entry of plan(envNumber('BENCH_OPENS', 50))) outcomes.push(await runTarget(entry, settings, cellOptions, deadline));

  const report = renderReport(machine, settings, outcomes, (performance.now() - began) / 1000, ceiling);
  process.stdout.write(report);
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.md'), report);
  const raw = outcomes.map((o) => ({ ...o, cells: Object.fromEntries(o.cells) }));
  writeFileSync(join(dir, 'latest.json'), JSON.stringify({ machine, settings, ceiling, outcomes: raw }, null, 2) + '\n');
  progress(`wrote ${join(dir, 'latest.md')}`);
}

main().catch((err) => {
  progress(`failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
