/**
 * Issue 9, defect 4: with --session-mode isolated --max-sessions 2, 30 concurrent initializes must not start 30
 * server processes: the slot is taken before the process is started. One load session holds one slot.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { sessionFlood } from './session-flood.js';

export const isolatedMaxSessions: FaultScenario = {
  id: 'isolated-max-sessions',
  title: 'session flood, isolated mode: 30 initializes (12 in npm test) at --max-sessions 2',
  quick: true,
  run: (env) =>
    underLoad(
      env,
      {
        id: 'isolated-max-sessions',
        command: fixtureCommand('fault-tools'),
        args: ['--session-mode', 'isolated', '--max-sessions', '2'],
        mcp: 1,
        rest: 1,
      },
      (run) => sessionFlood(run, env.settings.quick ? 12 : 30, 1),
    ),
};
