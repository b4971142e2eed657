/**
 * SIGTERM under load: a call in flight finishes during the drain, new work is refused, the sidecar exits 0 and
 * leaves no process behind, and Consul forgets it at once.
 */
import { fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { sleep, underLoad, type FaultScenario } from '../fault-run.js';
import { sessionPost } from '../probes.js';

export const sigtermUnderLoad: FaultScenario = {
  id: 'sigterm-under-load',
  title: 'SIGTERM under load (a 1 s call in flight)',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'sigterm-under-load', command: fixtureCommand('fault-tools') }, async (run, load) => {
      const client = new McpHttpClient(run.url);
      await client.initialize();
      const slow = run.probe(
        '1 s call in flight at SIGTERM',
        (signal) =>
          sessionPost(
            client,
            '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{"ms":1000,"tag":"drain"}}}',
            signal,
          ),
        (a) => (a.includes('done drain') ? undefined : `answered ${a.slice(0, 160)} (must finish during the drain)`),
      );
      await sleep(200);
      run.expectExit();
      run.sidecar.proc.kill('SIGTERM');
      await slow;
      await run.sidecar.exited;
      await load.stop(); // requests after the exit meet a closed port: expected, not counted
    }),
};
