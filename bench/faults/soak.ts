/**
 * `npm run soak -- --minutes N`: two sidecars (shared mode in front of test/fixtures/hang, isolated mode in
 * front of test/fixtures/fault-tools) under mixed load (MCP sessions and REST callers) for N minutes, with a
 * fault every --every seconds in turn: kill -9 of the shared server, a hang of the shared server, a Consul
 * restart, kill -9 of the isolated primary. Each sidecar's own RSS is sampled every 5 s; the report is the
 * least-squares RSS slope (MB/min) per sidecar and the totals of the fault table. Ctrl-C ends the run early and
 * still reports; every process is ended either way.
 */
import { startConsulAgent } from '../../test/support/consul-agent.js';
import { rssKb } from '../process-stats.js';
import { FaultRun, FULL_SETTINGS, sleep, type FaultEnv, type FaultRow } from './fault-run.js';
import { JSON_HEADERS, post } from './probes.js';
import { renderTable } from './table.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} ${process.argv[i + 1]}: give a positive number`);
  return value;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

async function main(): Promise<void> {
  const minutes = option('minutes', 10);
  const everyMs = option('every', 30) * 1000;
  const progress = (line: string) => process.stderr.write(`[soak] ${line}\n`);
  let stop = false;
  const runs: FaultRun[] = [];
  process.on('SIGINT', () => {
    if (stop) process.exit(130);
    stop = true;
    // Ctrl-C reached the sidecars too (same terminal): their exit is ours, not a finding
    for (const run of runs) run.expectExit();
    progress('Ctrl-C: stopping the load and the sidecars, then reporting; again to quit at once');
  });

  const consul = await startConsulAgent();
  const env: FaultEnv = { consul, settings: FULL_SETTINGS, progress };
  const rss = new Map<string, Array<[number, number]>>();
  const began = Date.now();
  const rows: FaultRow[] = [];
  try {
    const { fixtureCommand } = await import('../../test/support/sidecar-process.js');
    runs.push(
      await FaultRun.start(env, {
        id: 'soak-shared',
        command: fixtureCommand('hang'),
        args: ['--ping-timeout', '1s', '--ping-misses', '2'],
      }),
    );
    runs.push(
      await FaultRun.start(env, {
        id: 'soak-isolated',
        command: fixtureCommand('fault-tools'),
        args: ['--session-mode', 'isolated', '--warm', '1'],
        mcp: 2,
        rest: 1,
      }),
    );
    for (const run of runs) {
      if (!(await run.ready()))
        throw new Error(`${run.spec.id} never became ready:\n${run.sidecar.logs().slice(-2000)}`);
      run.startLoad();
      rss.set(run.spec.id, []);
    }
    const [shared, isolated] = runs;
    const faults: Array<[string, () => Promise<unknown>]> = [
      [
        'kill -9 of the shared server',
        async () => shared.workerPid().then((pid) => pid && process.kill(pid, 'SIGKILL')),
      ],
      [
        'hang of the shared server',
        () =>
          post(shared.url, '/tools/hang', '{}', JSON_HEADERS, AbortSignal.timeout(shared.hungMs)).catch(
            () => undefined,
          ),
      ],
      ['Consul restart', async () => (await consul.stop(), await sleep(2000), await consul.restart())],
      [
        'kill -9 of the isolated primary',
        async () => isolated.workerPid().then((pid) => pid && process.kill(pid, 'SIGKILL')),
      ],
    ];
    const end = began + minutes * 60_000;
    let nextSample = Date.now();
    let nextFault = Date.now() + everyMs;
    let faultIndex = 0;
    let pending: Promise<unknown> = Promise.resolve();
    while (!stop && Date.now() < end) {
      if (Date.now() >= nextSample) {
        nextSample += 5000;
        for (const run of runs)
          if (run.running) rss.get(run.spec.id)!.push([(Date.now() - began) / 60_000, rssKb(run.sidecar.pid) / 1024]);
      }
      if (Date.now() >= nextFault) {
        nextFault += everyMs;
        const [what, inject] = faults[faultIndex++ % faults.length];
        progress(`${Math.round((Date.now() - began) / 1000)} s: ${what}`);
        // faults run beside the loop (a hang's call waits for its error); one at a time
        pending = pending.then(inject).catch((err: Error) => progress(`${what} failed: ${err.message}`));
      }
      await sleep(250);
    }
    await pending;
  } finally {
    for (const run of runs) rows.push(await run.finish());
    await consul.stop();
  }
  const titles = new Map([
    ['soak-shared', 'soak: shared mode (hang fixture), faults every interval'],
    ['soak-isolated', 'soak: isolated mode --warm 1 (fault-tools fixture)'],
  ]);
  // The first minutes carry the warm-up (JIT, pools, lazily loaded modules): the second half's slope is the leak signal.
  const slopes = [...rss].map(
    ([id, points]) =>
      `- ${id}: RSS slope ${slope(points).toFixed(2)} MB/min over ${points.length} samples, ${slope(points.slice(Math.floor(points.length / 2))).toFixed(2)} MB/min over the second half (first ${points[0]?.[1].toFixed(0)} MB, last ${points[points.length - 1]?.[1].toFixed(0)} MB)`,
  );
  process.stdout.write(
    `# Soak run\n\n- date: ${new Date().toISOString()}\n- node: ${process.version}\n- duration: ${((Date.now() - began) / 60_000).toFixed(1)} min, a fault every ${everyMs / 1000} s\n\n${slopes.join('\n')}\n\n${renderTable(rows, titles)}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
