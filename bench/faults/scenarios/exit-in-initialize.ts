/**
 * A server that exits during initialize (test/fixtures/exit-on-init) never starts: requests must fail at once
 * (503 with the reason), the sidecar stops restarting after the crash loop and stays up, and Consul never lists
 * the instance passing.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';

/** Restarts close together, so the crash loop is reached within the row's load. */
export const FAST_RESTARTS = ['--restart-min', '100ms', '--restart-max', '500ms'];

export const exitInInitialize: FaultScenario = {
  id: 'exit-in-initialize',
  title: 'child exits during initialize (crash loop)',
  quick: false,
  run: (env) =>
    underLoad(
      env,
      { id: 'exit-in-initialize', command: fixtureCommand('exit-on-init'), args: FAST_RESTARTS, waitReady: false },
      async () => undefined,
    ),
};
