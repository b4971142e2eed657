/**
 * Session floods: `count` concurrent initializes against `--max-sessions`. Those within the limit may open; the
 * rest must get 503 at once. Every session that opened is closed again afterwards. Shared mode here; isolated
 * mode (issue 9, defect 4, where every session is a process) in isolated-max-sessions.ts.
 */
import { fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultRun, type FaultScenario } from '../fault-run.js';
import { ProcessWatch } from '../process-watch.js';

/** Opens `count` sessions at once; more than `allowed` opening, or anything but 200/503, is a wrong answer. */
export async function sessionFlood(run: FaultRun, count: number, allowed: number): Promise<void> {
  const opened: McpHttpClient[] = [];
  const processes = new ProcessWatch(run.sidecar.pid);
  let peakProcesses = processes.poll();
  const watch = setInterval(() => (peakProcesses = Math.max(peakProcesses, processes.poll())), 100);
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = new McpHttpClient(run.url);
      try {
        await client.initialize();
        opened.push(client);
        return 200;
      } catch (err) {
        return Number(/HTTP (\d+)/.exec((err as Error).message)?.[1] ?? 0) || (err as Error).message;
      }
    }),
  );
  clearInterval(watch);
  let successes = 0;
  for (const answer of answers) {
    await run.probe(
      `initialize (one of ${count} at once)`,
      async () => String(answer),
      () => {
        if (answer === 503) return undefined;
        if (answer === 200) return ++successes <= allowed ? undefined : `a session opened past the limit of ${allowed}`;
        return `answered ${answer} (must be 200 within the limit, 503 past it)`;
      },
    );
  }
  run.note(
    `${opened.length} of ${count} initializes opened a session (${allowed} allowed); the sidecar's tree peaked at ${peakProcesses} processes`,
  );
  await Promise.all(opened.map((c) => c.close().catch(() => 0)));
}

export const sessionFloodShared: FaultScenario = {
  id: 'session-flood-shared',
  title: 'session flood, shared mode: 200 initializes at --max-sessions 20',
  quick: false,
  run: (env) =>
    underLoad(
      env,
      { id: 'session-flood-shared', command: fixtureCommand('fault-tools'), args: ['--max-sessions', '20'] },
      (run) => sessionFlood(run, 200, 20 - (run.spec.mcp ?? env.settings.mcpClients)),
    ),
};
