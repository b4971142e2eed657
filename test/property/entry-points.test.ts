/**
 * Hostile input, generated: fast-check properties over the HTTP and JSON-RPC entry points of the real sidecar
 * process (POST /mcp in both protocol eras, POST /tools/:name). Random bodies (JSON-RPC-shaped or not, batches,
 * deep nesting, large sizes, invalid UTF-8, any unicode), random headers and session ids, random ids. Whatever
 * arrives: never a 5xx, never a crash of the sidecar or its server, never an answer delivered to another session,
 * and the server never sees a malformed message (the fixture reports one on stderr, which lands in the log).
 *
 * CI runs a fixed seed and a modest number of runs; a longer search: MCP_SIDECAR_PROPERTY_RUNS=5000 (and
 * MCP_SIDECAR_PROPERTY_SEED=<n> to replay a failure fast-check reported).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { raw } from '../support/harness.js';
import {
  fixtureCommand,
  McpHttpClient,
  readyz,
  startSidecar,
  waitForReady,
  type RunningSidecar,
} from '../support/sidecar-process.js';

const RUNS = Number(process.env.MCP_SIDECAR_PROPERTY_RUNS ?? 150);
const SEED = Number(process.env.MCP_SIDECAR_PROPERTY_SEED ?? 20261202);
const settings = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** Header values node will send: printable ASCII and Latin-1, anything else in them is the client's own error. */
const headerText = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }))
    .map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }));

/** Tools that answer at once (no slow, flood or server→client requests: a property run is one quick exchange). */
const toolName = fc.oneof(fc.constantFrom('echo', 'add', 'pid', 'meta', 'fail'), anyText);
const method = fc.oneof(
  fc.constantFrom(
    'tools/call',
    'tools/list',
    'ping',
    'initialize',
    'logging/setLevel',
    'resources/list',
    'prompts/list',
    'server/discover',
    'notifications/initialized',
    'notifications/cancelled',
    'notifications/progress',
  ),
  anyText,
);
const id = fc.oneof(fc.integer(), fc.double(), anyText, fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
const modernMeta = fc.record({
  'io.modelcontextprotocol/protocolVersion': fc.oneof(fc.constantFrom('2026-07-28', '2025-11-25'), anyText),
  'io.modelcontextprotocol/clientCapabilities': fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 })),
});
const params = fc.oneof(
  fc.record(
    {
      name: toolName,
      arguments: fc.jsonValue({ maxDepth: 4 }),
      _meta: fc.oneof(modernMeta, fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);
/** Anything shaped like a JSON-RPC message, its fields of any type. */
const anyMessage = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue({ maxDepth: 1 })),
    id,
    method,
    params,
    result: fc.jsonValue({ maxDepth: 2 }),
    error: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
/** Requests and notifications a client could send (so that many reach the server), with hostile ids and params. */
const nearlyValid = fc.record(
  { jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer(), anyText), method, params },
  { requiredKeys: ['jsonrpc', 'method'] },
);
const message = fc.oneof({ weight: 3, arbitrary: nearlyValid }, { weight: 2, arbitrary: anyMessage });
/** Text of a body: JSON-RPC-shaped, a batch, any JSON, deep nesting, something large, or not JSON at all. */
const body: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: fc.array(message, { maxLength: 6 }).map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 3000 }), toolName)
      .map(([n, name]) =>
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { x: 0 } } }).replace(
          '0',
          '{"a":'.repeat(n) + '0' + '}'.repeat(n),
        ),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 400_000 }).map((n) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { pad: 'x'.repeat(n) } },
      }),
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: anyText },
);

describe('generated hostile input at the entry points (fast-check)', () => {
  let sidecar: RunningSidecar;
  let a: McpHttpClient;
  let b: McpHttpClient;
  let serverPid: number;

  before(async () => {
    sidecar = await startSidecar(['--', ...fixtureCommand('fault-tools')]);
    serverPid = (await waitForReady(sidecar.url)).worker.pid;
    a = new McpHttpClient(sidecar.url);
    b = new McpHttpClient(sidecar.url);
    await Promise.all([a.initialize(), b.initialize()]);
  });

  after(async () => {
    // Never a crash: the sidecar runs, its server is the one it started with, nothing malformed reached it.
    assert.equal(sidecar.proc.exitCode, null, 'the sidecar is still running');
    assert.equal((await readyz(sidecar.url)).body.worker?.pid, serverPid, 'the server process never restarted');
    assert.doesNotMatch(sidecar.logs(), /malformed message from the client|could not parse a line/);
    await Promise.all([a.close(), b.close()]);
    await sidecar.stop();
  });

  const noServerError = (status: number, what: string) =>
    assert.ok(status < 500, `${what} answered ${status}: the sidecar must refuse bad input with a 4xx`);

  test('POST /mcp: any headers, session id and body get an answer below 500', async (t) => {
    // Mostly headers a client would send (so the body reaches the JSON-RPC layer), sometimes anything at all.
    const valid = fc.record({
      'content-type': fc.constant('application/json'),
      accept: fc.constant('application/json, text/event-stream'),
      'mcp-session-id': fc.constantFrom(a.sessionId!, b.sessionId!),
      'mcp-protocol-version': fc.constantFrom('2025-11-25', '2026-07-28'),
    });
    const modern = fc.record({
      'content-type': fc.constant('application/json'),
      accept: fc.constant('application/json, text/event-stream'),
      'mcp-protocol-version': fc.constant('2026-07-28'),
      'mcp-method': fc.oneof(fc.constantFrom('tools/call', 'tools/list'), headerText),
      'mcp-name': fc.oneof(fc.constant('echo'), headerText),
    });
    const any = fc.record(
      {
        'content-type': fc.oneof(fc.constant('application/json'), headerText),
        accept: fc.oneof(fc.constant('application/json, text/event-stream'), headerText),
        'mcp-session-id': fc.oneof(fc.constant(a.sessionId!), fc.constant(`mcps1-${crypto.randomUUID()}`), headerText),
        'mcp-protocol-version': fc.oneof(fc.constantFrom('2025-11-25', '2026-07-28', '2025-03-26'), headerText),
        'mcp-method': fc.oneof(fc.constantFrom('tools/call', 'tools/list'), headerText),
        'mcp-name': fc.oneof(fc.constant('echo'), headerText),
      },
      { requiredKeys: [] },
    );
    const headers = fc.oneof(
      { weight: 3, arbitrary: valid },
      { weight: 2, arbitrary: modern },
      { weight: 1, arbitrary: any },
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(headers, body, async (h, text) => {
        const res = await raw(sidecar.url, { headers: h as Record<string, string>, body: text });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        noServerError(res.status, `POST /mcp with ${JSON.stringify(h)} and ${String(text).slice(0, 200)}`);
      }),
      settings,
    );
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  });

  test('POST /tools/:name: any name, content type and body get an answer below 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        toolName,
        fc.oneof(fc.constant('application/json'), headerText),
        body,
        async (name, type, text) => {
          const res = await raw(sidecar.url, {
            path: `/tools/${encodeURIComponent(name)}`,
            headers: { 'content-type': type },
            body: text,
          });
          noServerError(res.status, `POST /tools/${name} with ${String(text).slice(0, 200)}`);
        },
      ),
      settings,
    );
  });

  test('two sessions sending the same ids at once: each gets its own answers, with its own id', async () => {
    // Any id JSON-RPC allows, including integers past 2^53 that only the raw text keeps exactly.
    const idText = fc.oneof(
      fc.integer().map(String),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map(String),
      anyText.map((s) => JSON.stringify(s)),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(idText, fc.jsonValue({ maxDepth: 3 }), async (idJson, payload) => {
        run++;
        const exchange = async (client: McpHttpClient, owner: string) => {
          const marker = `owner-${owner}-${run}`;
          const args = JSON.stringify({ marker, payload });
          const res = await client.post(
            `{"jsonrpc":"2.0","id":${idJson},"method":"tools/call","params":{"name":"echo","arguments":${args}}}`,
          );
          return { status: res.status, text: await res.text(), marker };
        };
        const [fromA, fromB] = await Promise.all([exchange(a, 'A'), exchange(b, 'B')]);
        for (const [mine, theirs] of [
          [fromA, fromB],
          [fromB, fromA],
        ]) {
          assert.equal(mine.status, 200, mine.text.slice(0, 300));
          assert.ok(mine.text.includes(mine.marker), `its own answer: ${mine.text.slice(0, 300)}`);
          assert.ok(!mine.text.includes(theirs.marker), 'never the other session answer');
          assert.ok(mine.text.includes(`"id":${idJson}`), `its own id ${idJson}: ${mine.text.slice(0, 300)}`);
        }
      }),
      settings,
    );
  });
});
