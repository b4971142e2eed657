/**
 * Issue 9, defect 7: 60 connections each send 3.9 MB of a 4,000,000-byte body and stop. The sidecar must cut
 * them after --body-timeout (here 3 s) and cap the bytes it reads at once.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { endsWithin, rawConnection } from '../probes.js';

const BODY_TIMEOUT_MS = 3000;
const CUT_SLACK_MS = 15_000;

export const unfinishedBodies: FaultScenario = {
  id: 'unfinished-bodies',
  title: '60 unfinished 3.9 MB request bodies',
  quick: true,
  run: (env) =>
    underLoad(
      env,
      {
        id: 'unfinished-bodies',
        command: fixtureCommand('fault-tools'),
        args: ['--body-timeout', `${BODY_TIMEOUT_MS}ms`],
      },
      async (run) => {
        const { host } = new URL(run.url);
        const head = `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 4000000\r\n\r\n`;
        const chunk = Buffer.alloc(3_900_000, 'x');
        const sockets = await Promise.all(Array.from({ length: 60 }, () => rawConnection(run.url, head)));
        // written, not awaited: a sidecar that stops reading (as it should past --max-body-reading) never drains them
        for (const socket of sockets) socket.write(chunk);
        // Cut after --body-timeout; the slack is generous because node checks timeouts on an interval and a
        // loaded machine is slow to run it (a sidecar without the timeout keeps them for node's 300 s default).
        const ended = await Promise.all(sockets.map((socket) => endsWithin(socket, BODY_TIMEOUT_MS + CUT_SLACK_MS)));
        for (const end of ended) {
          await run.probe(
            'unfinished body',
            async () => String(end),
            (answer) =>
              answer === 'true'
                ? undefined
                : `still open ${BODY_TIMEOUT_MS + CUT_SLACK_MS} ms after the body stopped (must be cut after --body-timeout)`,
          );
        }
      },
    ),
};
