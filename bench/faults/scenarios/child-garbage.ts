/** A server that prints non-JSON-RPC lines between its messages (test/fixtures/garbage): every call must still work. */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';

export const childGarbage: FaultScenario = {
  id: 'child-garbage',
  title: 'child writes garbage on stdout between messages',
  quick: false,
  run: (env) => underLoad(env, { id: 'child-garbage', command: fixtureCommand('garbage') }, async () => undefined),
};
