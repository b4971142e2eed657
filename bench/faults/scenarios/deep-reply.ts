/**
 * Issue 9, defect 2: a tool that answers with 5,000 levels of nesting must cost that call an error (MCP and
 * REST alike) and nothing else.
 */
import { fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { JSON_HEADERS, post, rpcErrorCode, sessionPost, shortAnswer, statusOf } from '../probes.js';

export const deepReply: FaultScenario = {
  id: 'deep-reply',
  title: 'deep-nesting reply (a tool returns 5,000 levels)',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'deep-reply', command: fixtureCommand('fault-tools') }, async (run) => {
      const client = new McpHttpClient(run.url);
      await client.initialize();
      const call = '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"deep","arguments":{"depth":5000}}}';
      await run.probe(
        'MCP call of a tool answering 5,000 deep',
        (signal) => sessionPost(client, call, signal),
        (a) =>
          statusOf(a) === 200 && rpcErrorCode(a) !== undefined
            ? undefined
            : `answered ${shortAnswer(a)} (must be 200 with a JSON-RPC error for that call)`,
      );
      await run.probe(
        'REST call of a tool answering 5,000 deep',
        (signal) => post(run.url, '/tools/deep', '{"depth":5000}', JSON_HEADERS, signal),
        (a) => (statusOf(a) === 502 ? undefined : `answered ${shortAnswer(a)} (must be 502 with the reason)`),
      );
      await client.close().catch(() => 0);
    }),
};
