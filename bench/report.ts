/**
 * The benchmark's markdown: the machine, the throughput table (one row per target and C, ratios of calls/s to
 * the stdio limit and to each other row at the same C), session-open times, and the issues' budgets checked
 * against this very run.
 */
import type { CellMeasurement, CellResult } from './cell.js';
import type { SessionOpenMeasurement } from './session-open.js';

export interface MachineInfo {
  date: string;
  node: string;
  node22: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run began: other work on the machine skews every number. */
  loadAverage: number[];
}

export interface RunSettings {
  /** Warm-up before a cell's first round, and before each later round (sessions and JIT are warm by then). */
  warmupMs: number;
  rewarmMs: number;
  /** Measured window of one round, and rounds per cell (interleaved across targets; the best counts). */
  measureMs: number;
  rounds: number;
  maxCalls: number;
  concurrency: number[];
  callTimeoutMs: number;
}

export interface TargetOutcome {
  id: string;
  label: string;
  /** Set when the target did not start: every cell of it shows this. */
  startError?: string;
  /** Whether the target is in the throughput table (one that is here only for session opens is not). */
  throughput: boolean;
  cells: Map<number, CellResult>;
  opens?: { result: SessionOpenMeasurement | { error: string }; intervalMs: number };
  /** Pids that were still alive after SIGTERM and the grace period (and were killed). */
  leftovers: number[];
}

/** The budget of issue 2 (at C = 32) and the session-open goal of issue 5. */
export const BUDGET = {
  concurrency: 32,
  vsSupergateway: 3,
  vsMcpProxy: 2,
  cpuMsPerCall: 0.25,
  peakRssMb: 200,
  isolatedOpenP50Ms: 20,
};

/** Issue 11: the modern (stateless 2026-07-28) row against the legacy row, at every C of the run. */
export const MODERN_BUDGET = { minCallsPerSecondVsLegacy: 0.9 };

/** Issue 16 at C = 32, for each era; the floor distance is the alternative when Node's own HTTP cost rules out the rest. */
export const COST_BUDGET = { concurrency: 32, vsMcpProxy: 5, cpuMsPerCall: 0.06, floorDistance: 1.5, p99Ms: 5 };

const FLOOR_ID = 'node-http-floor';
const ERAS = [
  ['sidecar', 'legacy (sessions)'],
  ['sidecar-modern', 'modern (stateless 2026-07-28)'],
] as const;

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const oneLine = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 300);

function callsPerSecond(outcome: TargetOutcome | undefined, c: number): number | undefined {
  const cell = outcome?.cells.get(c);
  return cell?.ok ? cell.value.callsPerSecond : undefined;
}

type Judged = { ok: true; value: CellMeasurement } | { ok: false; why: string };

/**
 * A target's cell at C, or why there is nothing to judge: a target left out of the run is "not judged", while one
 * that ran and failed is a FAIL (the requirement is not met), with its reason.
 */
function judged(outcomes: TargetOutcome[], id: string, c: number): Judged {
  const outcome = outcomes.find((o) => o.id === id);
  if (!outcome) return { ok: false, why: `not judged (${id} is not in this run)` };
  const cell = outcome.cells.get(c);
  if (cell?.ok) return cell;
  // the failure's own words are in the table row; the budget line only points there
  return {
    ok: false,
    why:
      outcome.startError || cell
        ? `FAIL (${outcome.label} has no result at C = ${c}; its table row says why)`
        : `not judged (no cell at C = ${c})`,
  };
}

function ratio(mine: number, theirs: number | undefined): string {
  return theirs === undefined || theirs === 0 ? '–' : `${(mine / theirs).toFixed(2)}×`;
}

export function throughputTable(all: TargetOutcome[], settings: RunSettings): string {
  const outcomes = all.filter((o) => o.throughput);
  const bridges = outcomes.filter((o) => o.id !== 'stdio');
  const stdio = outcomes.find((o) => o.id === 'stdio');
  const header = [
    'C',
    'target',
    'calls/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'peak RSS MB',
    'bridge RSS MB',
    'CPU ms/call',
    'bridge / child CPU',
    'client CPU ms/call',
    'other load (cores)',
    '× stdio',
    ...bridges.map((b) => `× ${b.id}`),
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const c of settings.concurrency) {
    for (const outcome of outcomes) {
      const cell = outcome.cells.get(c);
      if (!cell || !cell.ok) {
        const reason = outcome.startError
          ? `failed to start: ${outcome.startError}`
          : cell
            ? `failed: ${cell.reason}`
            : 'not run';
        lines.push(`| ${c} | ${outcome.label} | ${oneLine(reason)} |${' |'.repeat(header.length - 3)}`);
        continue;
      }
      const v = cell.value;
      const ratios = [
        outcome.id === 'stdio' ? '1.00×' : ratio(v.callsPerSecond, callsPerSecond(stdio, c)),
        ...bridges.map((b) => (b.id === outcome.id ? '–' : ratio(v.callsPerSecond, callsPerSecond(b, c)))),
      ];
      lines.push(
        `| ${[
          c,
          outcome.label,
          int(v.callsPerSecond),
          fixed(v.p50Ms, 2),
          fixed(v.p99Ms, 2),
          v.errors === 0 ? '0' : `**${v.errors}**`,
          int(v.peakRssMb),
          outcome.id === 'stdio' ? '–' : int(v.rootPeakRssMb),
          fixed(v.cpuMsPerCall, 3),
          `${fixed(v.bridgeCpuMsPerCall, 3)} / ${fixed(v.childCpuMsPerCall, 3)}`,
          fixed(v.clientCpuMsPerCall, 3),
          fixed(v.otherLoadCores, 2),
          ...ratios,
        ].join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

export function sessionOpenTable(outcomes: TargetOutcome[]): string {
  const rows = outcomes.filter((o) => o.opens || (o.startError && !o.throughput));
  if (rows.length === 0) return '';
  const lines = [
    '| target | opens | pace | p50 ms | p99 ms | max ms | errors | processes before → after | peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of rows) {
    const r = o.opens?.result;
    if (!r || 'error' in r) {
      const reason = o.startError ? `failed to start: ${o.startError}` : r ? `failed: ${r.error}` : 'not run';
      lines.push(`| ${o.label} | ${oneLine(reason)} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${[
        o.label,
        r.opens,
        `1 / ${o.opens!.intervalMs} ms`,
        fixed(r.p50Ms, 2),
        fixed(r.p99Ms, 2),
        fixed(r.maxMs, 2),
        r.errors === 0 ? '0' : `**${r.errors}** (${oneLine(r.errorSamples.join('; '))})`,
        `${r.processesBefore} → ${r.processesAfter}`,
        int(r.peakRssMb),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** One line per budget item: pass/fail with the measured value, or why it could not be judged. */
export function budgetLines(outcomes: TargetOutcome[]): string[] {
  const c = BUDGET.concurrency;
  const byId = (id: string) => outcomes.find((o) => o.id === id);
  const sidecar = byId('sidecar')?.cells.get(c);
  const lines: string[] = [];
  if (!sidecar?.ok) {
    lines.push(`- C = ${c}: the sidecar has no result, nothing to judge`);
  } else {
    const v = sidecar.value;
    for (const [peer, factor] of [
      ['supergateway', BUDGET.vsSupergateway],
      ['mcp-proxy', BUDGET.vsMcpProxy],
    ] as const) {
      const theirs = callsPerSecond(byId(peer), c);
      if (theirs === undefined)
        lines.push(`- calls/s ≥ ${factor}× ${peer}: not judged (${peer} has no result at C = ${c})`);
      else
        lines.push(
          `- calls/s ≥ ${factor}× ${peer}: ${verdict(v.callsPerSecond >= factor * theirs)} (${(v.callsPerSecond / theirs).toFixed(2)}×: ${int(v.callsPerSecond)} vs ${int(theirs)})`,
        );
    }
    lines.push(
      `- bridge + child CPU ≤ ${BUDGET.cpuMsPerCall} ms/call: ${verdict(v.cpuMsPerCall <= BUDGET.cpuMsPerCall)} (${fixed(v.cpuMsPerCall, 3)}: bridge ${fixed(v.bridgeCpuMsPerCall, 3)}, child ${fixed(v.childCpuMsPerCall, 3)})`,
    );
    lines.push(
      `- peak RSS < ${BUDGET.peakRssMb} MB: ${verdict(v.peakRssMb < BUDGET.peakRssMb)} (${int(v.peakRssMb)} MB: sidecar ${int(v.rootPeakRssMb)}, the rest its server child)`,
    );
    lines.push(`- no errors: ${verdict(v.errors === 0)} (${v.errors})`);
  }
  const isolated = byId('sidecar-isolated')?.opens?.result;
  if (isolated && !('error' in isolated) && isolated.opens > 0) {
    lines.push(
      `- isolated mode (--warm 2) session open p50 < ${BUDGET.isolatedOpenP50Ms} ms: ${verdict(isolated.p50Ms < BUDGET.isolatedOpenP50Ms)} (${fixed(isolated.p50Ms, 2)} ms, p99 ${fixed(isolated.p99Ms, 2)} ms)`,
    );
  } else {
    lines.push('- isolated mode session open: not judged (no result)');
  }
  return lines;
}

/** Issue 11: at each C, the modern row against the legacy row of the same sidecar build. */
export function modernLines(outcomes: TargetOutcome[], settings: RunSettings): string[] {
  const factor = MODERN_BUDGET.minCallsPerSecondVsLegacy;
  return settings.concurrency.map((c) => {
    const legacy = judged(outcomes, 'sidecar', c);
    const modern = judged(outcomes, 'sidecar-modern', c);
    const head = `- modern at C = ${c}: calls/s ≥ ${factor}× legacy and CPU/call ≤ legacy:`;
    if (!legacy.ok) return `${head} not judged (legacy: ${legacy.why})`;
    if (!modern.ok) return `${head} ${modern.why}`;
    const m = modern.value;
    const l = legacy.value;
    return (
      `${head} calls/s ${verdict(m.callsPerSecond >= factor * l.callsPerSecond)} (${(m.callsPerSecond / l.callsPerSecond).toFixed(2)}×: ${int(m.callsPerSecond)} vs ${int(l.callsPerSecond)}), ` +
      `CPU ${verdict(m.cpuMsPerCall <= l.cpuMsPerCall)} (${fixed(m.cpuMsPerCall, 3)} vs ${fixed(l.cpuMsPerCall, 3)} ms/call)`
    );
  });
}

/** Issue 16 at C = 32, for each era: peers, CPU, p99, and the distance to the node:http floor. */
export function costLines(outcomes: TargetOutcome[]): string[] {
  const c = COST_BUDGET.concurrency;
  const floor = judged(outcomes, FLOOR_ID, c);
  const mcpProxy = callsPerSecond(
    outcomes.find((o) => o.id === 'mcp-proxy'),
    c,
  );
  const lines: string[] = [];
  for (const [id, era] of ERAS) {
    const mine = judged(outcomes, id, c);
    if (!mine.ok) {
      lines.push(`- ${era} at C = ${c}: ${mine.why}`);
      continue;
    }
    const v = mine.value;
    lines.push(
      mcpProxy === undefined
        ? `- ${era}: calls/s ≥ ${COST_BUDGET.vsMcpProxy}× mcp-proxy: not judged (mcp-proxy has no result at C = ${c})`
        : `- ${era}: calls/s ≥ ${COST_BUDGET.vsMcpProxy}× mcp-proxy: ${verdict(v.callsPerSecond >= COST_BUDGET.vsMcpProxy * mcpProxy)} (${(v.callsPerSecond / mcpProxy).toFixed(2)}×: ${int(v.callsPerSecond)} vs ${int(mcpProxy)})`,
      `- ${era}: CPU (sidecar + server) ≤ ${COST_BUDGET.cpuMsPerCall} ms/call: ${verdict(v.cpuMsPerCall <= COST_BUDGET.cpuMsPerCall)} (${fixed(v.cpuMsPerCall, 3)}: sidecar ${fixed(v.bridgeCpuMsPerCall, 3)}, server ${fixed(v.childCpuMsPerCall, 3)})`,
    );
    if (!floor.ok) {
      lines.push(`- ${era}: within ${COST_BUDGET.floorDistance}× of the node:http floor: ${floor.why}`);
    } else {
      const f = floor.value;
      const slower = f.callsPerSecond / v.callsPerSecond;
      const costlier = v.bridgeCpuMsPerCall / f.bridgeCpuMsPerCall;
      lines.push(
        `- ${era}: within ${COST_BUDGET.floorDistance}× of the node:http floor: calls/s ${verdict(slower <= COST_BUDGET.floorDistance)} (floor / sidecar ${slower.toFixed(2)}×: ${int(f.callsPerSecond)} vs ${int(v.callsPerSecond)}), ` +
          `the sidecar's own CPU ${verdict(costlier <= COST_BUDGET.floorDistance)} (sidecar / floor ${costlier.toFixed(2)}×: ${fixed(v.bridgeCpuMsPerCall, 3)} vs ${fixed(f.bridgeCpuMsPerCall, 3)} ms/call)`,
      );
    }
    lines.push(
      `- ${era}: p99 ≤ ${COST_BUDGET.p99Ms} ms: ${verdict(v.p99Ms <= COST_BUDGET.p99Ms)} (${fixed(v.p99Ms, 2)} ms${p99Context(outcomes, c)})`,
    );
  }
  return lines;
}

/**
 * What bounds p99 from below on this machine at C: the bare node:http server's own p99 under the same client,
 * and the server's alone over stdio. A bridge has both in its path, so a goal under them is out of reach here.
 */
function p99Context(outcomes: TargetOutcome[], c: number): string {
  const parts: string[] = [];
  const floor = judged(outcomes, FLOOR_ID, c);
  if (floor.ok) parts.push(`the node:http floor's own ${fixed(floor.value.p99Ms, 2)} ms`);
  const stdio = judged(outcomes, 'stdio', c);
  if (stdio.ok) parts.push(`the server alone over stdio ${fixed(stdio.value.p99Ms, 2)} ms`);
  return parts.length === 0 ? '' : `; at the same C, ${parts.join(', ')}`;
}

/** The floor row at the run's highest C is also the most the load client can push on this machine. */
function ceilingLine(outcomes: TargetOutcome[], settings: RunSettings): string[] {
  const c = Math.max(...settings.concurrency);
  const floor = judged(outcomes, FLOOR_ID, c);
  if (!floor.ok && floor.why.startsWith('not judged')) return [];
  return [
    floor.ok
      ? `- load client ceiling: ${int(floor.value.callsPerSecond)} calls/s at C = ${c} against the node:http floor (a bare node:http server, no MCP server behind it), client CPU ${fixed(floor.value.clientCpuMsPerCall, 3)} ms/call`
      : `- load client ceiling: ${floor.why}`,
  ];
}

export function renderReport(
  machine: MachineInfo,
  settings: RunSettings,
  outcomes: TargetOutcome[],
  totalSeconds: number,
): string {
  const parts = [
    `# mcp-sidecar benchmark`,
    '',
    `- date: ${machine.date}`,
    `- machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB RAM, Linux ${machine.kernel}`,
    `- node: ${machine.node} (bench, sidecar, supergateway, every server child); mcp-proxy on ${machine.node22} (it needs Node ≥ 22)`,
    `- per cell: C sessions opened (the modern row: C stateless channels, each checked with one call), then ${settings.rounds} rounds of a closed loop of C callers (${settings.warmupMs} ms warm-up before the first round, ${settings.rewarmMs} ms before the others, then a ${settings.measureMs} ms window of at most ${int(settings.maxCalls)} calls); each call is \`tools/call echo\` with a unique message whose reply is checked`,
    `- at each C the targets' rounds interleave (round 1 of every target, then round 2, …) and each cell shows its best round (highest calls/s), errors summed over all rounds: this machine may be shared, and the best round is the one least disturbed by other work`,
    `- load average when the run began: ${machine.loadAverage.map((l) => l.toFixed(2)).join(', ')}`,
    ...ceilingLine(outcomes, settings),
    `- total run time: ${totalSeconds.toFixed(0)} s`,
    '',
    '## Throughput, latency, CPU and memory',
    '',
    throughputTable(outcomes, settings),
    '',
    'calls/s and latency count only calls that started and finished inside the window. CPU ms/call is utime + stime',
    "of the bridge's whole process tree (the bridge and the server child it runs) over the window, divided by the",
    'calls; the stdio row has no bridge, so it is the server alone, and the node:http floor has no server, so it is',
    'that HTTP server alone. Peak RSS is the sum of VmRSS over the tree, sampled every 100 ms while the cell is open;',
    '"bridge RSS" is the bridge process alone. Client CPU is the benchmark process itself (load client, checks,',
    'sampling). supergateway in stateful mode starts one server child per session, so its tree holds C servers.',
    'The modern row is a second sidecar, started like the first, driven with stateless MCP 2026-07-28 requests (no',
    'initialize, no session; MCP-Protocol-Version, Mcp-Method and Mcp-Name headers; version, client capabilities and',
    "client info in each request's _meta). The node:http floor answers each call at once from the request's id and",
    "message, with nothing behind it: what Node's HTTP server costs under this client, the least any bridge on it can",
    'cost. "× X" is calls/s over X\'s calls/s at the same C. "other load" is the CPU, in cores of the',
    `machine's ${machine.cores}, that processes outside the benchmark used during the window: when it is high, other work`,
    'shared the cores and the row is pessimistic.',
  ];
  const opens = sessionOpenTable(outcomes);
  if (opens) {
    parts.push(
      '',
      '## Session open (initialize + notifications/initialized, one at a time, then one checked echo and DELETE)',
      '',
      opens,
      '',
      'Opens are paced: in isolated mode each open takes a warm spare and the sidecar boots a replacement in the',
      'background, so the pace must leave it time to (a server-everything child needs ~0.3 s to boot here).',
    );
  }
  parts.push(
    '',
    `## Budget (issue 2 at C = ${BUDGET.concurrency}, issue 5 isolated open, issue 11 modern row, issue 16 cost at C = ${COST_BUDGET.concurrency})`,
    '',
    ...budgetLines(outcomes),
    ...modernLines(outcomes, settings),
    ...costLines(outcomes),
  );
  const leftovers = outcomes.filter((o) => o.leftovers.length > 0);
  if (leftovers.length > 0) {
    parts.push('', '## Processes still alive after SIGTERM + 5 s (killed with SIGKILL)', '');
    for (const o of leftovers) parts.push(`- ${o.label}: ${o.leftovers.length} (${o.leftovers.join(', ')})`);
  }
  return parts.join('\n') + '\n';
}
