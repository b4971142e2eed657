/**
 * The server stops answering (test/fixtures/hang: the tool `hang`) under load: missed pings mark it hung, the
 * sidecar kills and restarts it; the call that hung it gets an error, not silence.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { JSON_HEADERS, post, shortAnswer, statusOf } from '../probes.js';

export const childHang: FaultScenario = {
  id: 'child-hang',
  title: 'child hang: the server stops answering (pings included)',
  quick: false,
  run: (env) =>
    underLoad(
      env,
      { id: 'child-hang', command: fixtureCommand('hang'), args: ['--ping-timeout', '1s', '--ping-misses', '2'] },
      async (run) => {
        await run.probe(
          'REST call of the tool that hangs the server',
          (signal) => post(run.url, '/tools/hang', '{}', JSON_HEADERS, signal),
          (a) => (statusOf(a) >= 500 ? undefined : `answered ${shortAnswer(a)} (must be an error: the server hung)`),
        );
        if (!(await run.ready(15_000))) run.note('not ready again within 15 s after the hang');
      },
    ),
};
