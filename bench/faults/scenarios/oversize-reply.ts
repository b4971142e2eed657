/** Replies over --max-message (test/fixtures/huge, 2 MB at a 1 MB limit) fail that call alone. */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { JSON_HEADERS, post, shortAnswer, statusOf } from '../probes.js';

export const oversizeReply: FaultScenario = {
  id: 'oversize-reply',
  title: 'oversize reply: 2 MB lines at --max-message 1mb',
  quick: false,
  run: (env) =>
    underLoad(
      env,
      { id: 'oversize-reply', command: fixtureCommand('huge'), args: ['--max-message', '1mb'] },
      async (run) => {
        for (let i = 0; i < 5; i++) {
          await run.probe(
            'REST call answering 2 MB',
            (signal) => post(run.url, '/tools/huge', '{"bytes":2000000}', JSON_HEADERS, signal),
            (a) => (statusOf(a) === 502 ? undefined : `answered ${shortAnswer(a)} (must be 502 naming --max-message)`),
          );
        }
      },
    ),
};
