/**
 * Issue 9, defect 3: `Origin: http://127.attacker.example` is not loopback, and a REST POST without
 * Content-Type (what a browser sends with no CORS preflight) must get 415 (or 403 for the Origin).
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { JSON_HEADERS, post, shortAnswer, statusOf } from '../probes.js';

const EVIL = 'http://127.attacker.example';

export const originBypass: FaultScenario = {
  id: 'origin-bypass',
  title: 'crafted Origin (127.attacker.example), REST POST without Content-Type',
  quick: true,
  run: (env) =>
    underLoad(env, { id: 'origin-bypass', command: fixtureCommand('fault-tools') }, async (run) => {
      const initialize = JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'csrf', version: '1' } },
      });
      for (let i = 0; i < 10; i++) {
        // fetch always sends a Content-Type for a string body; a Blob without a type sends none, like the curl repro
        await run.probe(
          'REST POST, evil Origin, no Content-Type',
          (signal) =>
            fetch(`${run.url}/tools/echo`, {
              method: 'POST',
              headers: { origin: EVIL },
              body: new Blob(['{"message":"csrf"}']),
              signal,
            }).then(async (r) => `${r.status} ${await r.text()}`),
          (a) => ([403, 415].includes(statusOf(a)) ? undefined : `answered ${shortAnswer(a)} (must be 403 or 415)`),
        );
        await run.probe(
          'MCP initialize, evil Origin',
          (signal) => post(run.url, '/mcp', initialize, { ...JSON_HEADERS, origin: EVIL }, signal),
          (a) => (statusOf(a) === 403 ? undefined : `answered ${shortAnswer(a)} (must be 403)`),
        );
      }
    }),
};
