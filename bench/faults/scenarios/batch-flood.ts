/**
 * Issue 9, defect 5: one client's 4 MB batch of 80,000 pings must be refused past --max-batch (400 at once)
 * rather than starve every other client. The full run sends it to server-everything, as the issue did (its
 * pings are slow enough to starve the others); the shortened suite to the lighter fixture, where the answer and
 * the memory it takes show the defect too.
 */
import { everythingCommand, fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { sessionPost, shortAnswer, statusOf } from '../probes.js';

export const batchFlood: FaultScenario = {
  id: 'batch-80k-pings',
  title: '4 MB batch of 80,000 pings beside other clients',
  quick: true,
  run: (env) =>
    underLoad(
      env,
      { id: 'batch-80k-pings', command: env.settings.quick ? fixtureCommand('fault-tools') : everythingCommand() },
      async (run) => {
        const client = new McpHttpClient(run.url);
        await client.initialize();
        const batch = `[${Array.from({ length: 80_000 }, (_, i) => `{"jsonrpc":"2.0","id":${i + 1},"method":"ping"}`).join(',')}]`;
        run.note(`batch body: ${(batch.length / 1024 / 1024).toFixed(1)} MB`);
        await run.probe(
          'batch of 80,000 pings',
          (signal) => sessionPost(client, batch, signal),
          (a) => (statusOf(a) === 400 ? undefined : `answered ${shortAnswer(a)} (must be 400 past --max-batch)`),
        );
        await client.close().catch(() => 0);
      },
    ),
};
