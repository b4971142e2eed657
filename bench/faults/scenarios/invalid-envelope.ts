/**
 * Issue 9, defect 8: `params` as an array, `_meta` as a string, a tool name that is not a string. SDK servers
 * drop such requests silently, so the sidecar must answer -32602 at once rather than let the client wait out
 * --request-timeout. Against server-everything (an SDK server), which is what shows the wait.
 */
import { everythingCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { rpcErrorCode, sessionPost, shortAnswer } from '../probes.js';

const INVALID = [
  ['params as an array', '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":["echo",{"message":"x"}]}'],
  [
    '_meta as a string',
    '{"jsonrpc":"2.0","id":"m","method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"_meta":"oops"}}',
  ],
  ['name as a number', '{"jsonrpc":"2.0","id":"n","method":"tools/call","params":{"name":42,"arguments":{}}}'],
];

export const invalidEnvelope: FaultScenario = {
  id: 'invalid-envelope',
  title: 'params as an array / _meta as a string / name not a string',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'invalid-envelope', command: everythingCommand() }, async (run) => {
      const client = new McpHttpClient(run.url);
      await client.initialize();
      await Promise.all(
        INVALID.map(([what, body]) => {
          const started = Date.now();
          return run.probe(
            what,
            (signal) => sessionPost(client, body, signal),
            (a) => {
              const ms = Date.now() - started;
              if (rpcErrorCode(a) !== -32602)
                return `answered after ${ms} ms: ${shortAnswer(a)} (must be -32602 at once)`;
              return ms > 2000 ? `-32602 only after ${ms} ms (must be at once)` : undefined;
            },
          );
        }),
      );
      await client.close().catch(() => 0);
    }),
};
