/**
 * `npm run faults`: every fault scenario in turn, each under a closed-loop load against the real sidecar that
 * registers with a real Consul agent; prints one table on stdout (progress on stderr).
 *   npm run faults -- [--only id,id] [--quick]
 * --quick uses the shortened suite's settings (smaller floods, --request-timeout 5s).
 */
import { startConsulAgent } from '../../test/support/consul-agent.js';
import { FULL_SETTINGS, QUICK_SETTINGS, type FaultEnv, type FaultRow } from './fault-run.js';
import { SCENARIOS } from './scenarios/index.js';
import { renderTable } from './table.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const only = option('only')?.split(',');
  const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `--only: no scenario ${unknown.join(', ')}; the scenarios are ${SCENARIOS.map((s) => s.id).join(', ')}`,
    );
  const settings = process.argv.includes('--quick') ? QUICK_SETTINGS : FULL_SETTINGS;
  const chosen = SCENARIOS.filter((s) => !only || only.includes(s.id));
  const progress = (line: string) => process.stderr.write(`[faults] ${line}\n`);
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(
      'Ctrl-C: finishing the current row (its processes are ended), then printing what ran; again to quit at once',
    );
  });

  progress('starting a Consul agent (consul/install.sh finds or builds the binary)');
  const consul = await startConsulAgent();
  const env: FaultEnv = { consul, settings, progress };
  const rows: FaultRow[] = [];
  const started = Date.now();
  try {
    for (const scenario of chosen) {
      if (interrupted) break;
      progress(`${scenario.id}: ${scenario.title}`);
      const t0 = Date.now();
      try {
        rows.push(await scenario.run(env));
      } catch (err) {
        rows.push({
          fault: scenario.id,
          ok: 0,
          failed: 0,
          hung: 0,
          sidecarExits: 0,
          orphans: 0,
          phantoms: 0,
          peakRssMb: 0,
          probesWrong: 0,
          notes: [`could not run: ${(err as Error).message.slice(0, 300)}`],
        });
      }
      const r = rows[rows.length - 1];
      progress(
        `  ${((Date.now() - t0) / 1000).toFixed(1)} s: ok ${r.ok}, failed ${r.failed}, hung ${r.hung}, exits ${r.sidecarExits}, orphans ${r.orphans}, phantoms ${r.phantoms}, peak RSS ${Math.round(r.peakRssMb)} MB`,
      );
    }
  } finally {
    await consul.stop();
  }
  const titles = new Map(SCENARIOS.map((s) => [s.id, s.title]));
  process.stdout.write(
    `# Fault suite\n\n- date: ${new Date().toISOString()}\n- node: ${process.version}\n- settings: ${JSON.stringify(settings)}; hung = no answer within --request-timeout + 5 s\n- run time: ${Math.round((Date.now() - started) / 1000)} s\n\n${renderTable(rows, titles)}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`faults: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
