/**
 * Consul down for 2 s, then back as a fresh -dev agent that knows nothing: serving goes on meanwhile, and the
 * sidecar registers again by itself (passing, within 15 s of the agent's return).
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { checkStatuses } from '../../../test/support/consul-sidecar.js';
import { sleep, underLoad, type FaultScenario } from '../fault-run.js';

export const consulRestart: FaultScenario = {
  id: 'consul-restart',
  title: 'Consul down 2 s, then restarted empty',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'consul-restart', command: fixtureCommand('fault-tools') }, async (run) => {
      await env.consul.stop();
      await sleep(2000);
      await env.consul.restart();
      await run.probe(
        'registered again after the agent came back',
        async () => {
          const deadline = Date.now() + 15_000;
          while (Date.now() < deadline) {
            const checks = Object.values(await checkStatuses(env.consul, run.serviceId).catch(() => ({})));
            if (checks.length > 0 && checks.every((c) => c.Status === 'passing'))
              return `passing after ${15_000 - (deadline - Date.now())} ms`;
            await sleep(250);
          }
          return 'not passing';
        },
        (a) => (a.startsWith('passing') ? undefined : 'not registered passing within 15 s of the agent coming back'),
      );
    }),
};
