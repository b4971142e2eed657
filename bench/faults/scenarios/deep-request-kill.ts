/**
 * Issue 9, defect 1: a tools/call whose arguments nest 5,000 arrays deep (in a session, and on REST) must get
 * 400 / -32600 before anything is registered; then kill -9 of the server must not take the sidecar down.
 */
import { fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { JSON_HEADERS, nestedArrays, post, rpcErrorCode, sessionPost, shortAnswer, statusOf } from '../probes.js';

export const deepRequestKill: FaultScenario = {
  id: 'deep-request-kill',
  title: 'deep-nesting request (5,000 levels), then kill -9 of the server',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'deep-request-kill', command: fixtureCommand('fault-tools') }, async (run) => {
      const client = new McpHttpClient(run.url);
      await client.initialize();
      const deep = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"deep":${nestedArrays(5000)}}}}`;
      const rejected = (answer: string) =>
        statusOf(answer) === 400 && rpcErrorCode(answer) === -32600
          ? undefined
          : `answered ${shortAnswer(answer)} (must be 400 with -32600)`;
      await run.probe('MCP tools/call nested 5,000 deep', (signal) => sessionPost(client, deep, signal), rejected);
      await run.probe(
        'REST arguments nested 5,000 deep',
        (signal) => post(run.url, '/tools/echo', `{"deep":${nestedArrays(5000)}}`, JSON_HEADERS, signal),
        (a) => (statusOf(a) === 400 ? undefined : `answered ${shortAnswer(a)} (must be 400)`),
      );
      const pid = await run.workerPid();
      if (pid) process.kill(pid, 'SIGKILL');
      else run.note('no worker pid in /readyz to kill');
    }),
};
