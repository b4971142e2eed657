/** The server is killed (kill -9) twice under load: calls in flight fail at once, the sidecar restarts it. */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { sleep, underLoad, type FaultScenario } from '../fault-run.js';

export const childCrash: FaultScenario = {
  id: 'child-crash',
  title: 'child crash: kill -9 of the server, twice',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'child-crash', command: fixtureCommand('fault-tools') }, async (run) => {
      for (let i = 0; i < 2; i++) {
        const pid = await run.workerPid();
        if (pid) process.kill(pid, 'SIGKILL');
        if (!(await run.ready(10_000))) run.note(`not ready again within 10 s after kill ${i + 1}`);
        await sleep(500);
      }
    }),
};
