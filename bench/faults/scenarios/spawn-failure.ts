/** The server command does not exist: as exit-in-initialize, with the spawn error as the reason. */
import { underLoad, type FaultScenario } from '../fault-run.js';
import { FAST_RESTARTS } from './exit-in-initialize.js';

export const spawnFailure: FaultScenario = {
  id: 'spawn-failure',
  title: 'spawn failure: the command does not exist',
  quick: false,
  run: (env) =>
    underLoad(
      env,
      {
        id: 'spawn-failure',
        command: ['/nonexistent/mcp-server-for-the-fault-suite'],
        args: FAST_RESTARTS,
        waitReady: false,
      },
      async () => undefined,
    ),
};
