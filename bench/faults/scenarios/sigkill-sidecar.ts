/**
 * Issue 9, defect 9: SIGKILL of the sidecar while its server ignores stdin EOF and SIGTERM and has a grandchild
 * (test/fixtures/stubborn). Nothing may outlive the sidecar, and Consul must not keep it passing past one TTL.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';

export const sigkillSidecar: FaultScenario = {
  id: 'sigkill-sidecar',
  title: 'SIGKILL of the sidecar; the server ignores EOF and has a grandchild',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'sigkill-sidecar', command: fixtureCommand('stubborn') }, async (run, load) => {
      run.expectExit({ anyCode: true });
      run.sidecar.proc.kill('SIGKILL');
      await run.sidecar.exited;
      await load.stop(); // requests after this are refused by a dead port: not what the row is about
    }),
};
