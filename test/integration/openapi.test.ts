/**
 * GET /openapi.json through real sidecars in front of real servers (server-everything, -filesystem on a temp
 * folder, -memory, the conformance fixture): a valid OpenAPI 3.1 document (a real validator), request body schemas
 * that take the arguments the tools really take (and the sidecar then calls them) and refuse a wrong type, a 200
 * schema the real answers satisfy, the policy applied; ETag/304 and a new document when the tools change; the
 * auth guard; a client generated from the document at run time (openapi-client-axios) reaching a tool.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { OpenAPIClientAxios } from 'openapi-client-axios';
import { launch, rest, secretFile } from '../support/harness.js';
import { assertValidOpenApi, schemaValidators, toolOperation, type OpenApiDoc } from '../support/openapi.js';
import {
  everythingCommand,
  filesystemCommand,
  fixtureCommand,
  memoryCommand,
  readyz,
  sidecarMain,
  waitFor,
} from '../support/sidecar-process.js';

const run = promisify(execFile);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function getDocument(url: string, headers: Record<string, string> = {}): Promise<OpenApiDoc> {
  const res = await fetch(`${url}/openapi.json`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return (await res.json()) as OpenApiDoc;
}

/** A tool, arguments it really takes, and arguments with a wrong type; `call` false for tools that change things. */
interface Example {
  tool: string;
  good: Record<string, unknown>;
  bad: Record<string, unknown>;
}

async function checkServer(t: TestContext, args: string[], examples: Example[], absent: string[] = []) {
  const sidecar = await launch(t, args);
  const doc = await getDocument(sidecar.url);
  await assertValidOpenApi(doc);
  const listed = ((await (await fetch(`${sidecar.url}/tools`)).json()) as { tools: Array<{ name: string }> }).tools;
  assert.deepEqual(
    Object.keys(doc.paths).sort(),
    listed.map((tool) => `/tools/${encodeURIComponent(tool.name)}`).sort(),
    'one operation per tool the caller sees, none else',
  );
  const validator = schemaValidators(doc).body;
  for (const tool of listed) {
    const validate = validator(tool.name);
    assert.equal(validate('not an object'), false, `${tool.name}: a string is refused`);
    assert.equal(validate([]), false, `${tool.name}: an array is refused`);
  }
  for (const { tool, good, bad } of examples) {
    const validate = validator(tool);
    assert.ok(validate(good), `${tool} must accept ${JSON.stringify(good)}: ${JSON.stringify(validate.errors)}`);
    assert.equal(validate(bad), false, `${tool} must refuse ${JSON.stringify(bad)}`);
    // The document tells the truth: the sidecar itself takes the good arguments and refuses the bad ones.
    const called = await rest(sidecar.url, tool, good);
    assert.equal(called.status, 200, `${tool}: ${JSON.stringify(called.body)}`);
    assert.notEqual(called.body.isError, true, `${tool}: ${JSON.stringify(called.body)}`);
    assert.equal((await rest(sidecar.url, tool, bad)).status, 400, `${tool} with ${JSON.stringify(bad)}`);
  }
  for (const tool of absent) assert.equal(doc.paths[`/tools/${tool}`], undefined, `${tool} is denied`);
  return { sidecar, doc };
}

test('server-everything (with --tools-deny): valid OpenAPI 3.1, bodies, annotations as tags, structuredContent typed by outputSchema', async (t) => {
  const { sidecar, doc } = await checkServer(
    t,
    ['--tools-deny', 'get-env', '--', ...everythingCommand()],
    [
      { tool: 'echo', good: { message: 'hi' }, bad: { message: 42 } },
      { tool: 'get-sum', good: { a: 2, b: 3 }, bad: { a: '2', b: 3 } },
      { tool: 'get-structured-content', good: { location: 'Chicago' }, bad: { location: 5 } },
    ],
    ['get-env'],
  );
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.servers[0], { url: sidecar.url, description: 'this sidecar (--advertise)' });
  const echo = toolOperation(doc, 'echo');
  assert.equal(echo.operationId, 'echo');
  assert.equal(echo.summary, 'Echo Tool');
  assert.equal(echo.description, 'Echoes back the input string');
  assert.deepEqual(echo['x-mcp-annotations'], {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  });
  assert.deepEqual(echo.tags, ['read-only', 'idempotent']);
  for (const status of ['200', '400', '404', '413', '415', '502', '503', '504'])
    assert.ok(echo.responses[status], status);
  assert.ok(echo.responses['503'].headers['Retry-After']);
  assert.equal(echo.responses['401'], undefined, 'no auth, no 401');

  // The 200 schema, structuredContent typed by the tool's outputSchema, holds for the real answer.
  const validators = schemaValidators(doc);
  const op = toolOperation(doc, 'get-structured-content');
  const validate200 = validators.schema(op.responses['200'].content['application/json'].schema);
  const answer: Record<string, unknown> = (await rest(sidecar.url, 'get-structured-content', { location: 'Chicago' }))
    .body;
  assert.ok(validate200(answer), JSON.stringify(validate200.errors));
  assert.equal(validate200({ ...answer, structuredContent: { temperature: 'warm' } }), false, 'typed');
  // And the errors the facade gives have the documented body.
  const unknown = await rest(sidecar.url, 'nope', {});
  assert.equal(unknown.status, 404);
  const validateError = validators.schema(echo.responses['404'].content['application/json'].schema);
  assert.ok(validateError(unknown.body), JSON.stringify(validateError.errors));
});

test('server-filesystem on a temp folder: valid document; read_text_file, list_directory, write_file bodies', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.txt'), 'hello');
  await checkServer(
    t,
    ['--', ...filesystemCommand(dir)],
    [
      { tool: 'read_text_file', good: { path: join(dir, 'a.txt') }, bad: { path: 7 } },
      { tool: 'list_directory', good: { path: dir }, bad: { path: true } },
      {
        tool: 'write_file',
        good: { path: join(dir, 'b.txt'), content: 'x' },
        bad: { path: join(dir, 'b.txt'), content: 1 },
      },
    ],
  );
});

test('server-memory: valid document; create_entities, search_nodes bodies', async (t) => {
  const dir = tempDir(t);
  await checkServer(
    t,
    ['--env', `MEMORY_FILE_PATH=${join(dir, 'memory.jsonl')}`, '--', ...memoryCommand()],
    [
      {
        tool: 'create_entities',
        good: { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote programs'] }] },
        bad: { entities: 'Ada' },
      },
      { tool: 'search_nodes', good: { query: 'Ada' }, bad: { query: 1 } },
    ],
  );
});

test('the conformance fixture: valid document; a 2020-12 schema with $defs and additionalProperties: false', async (t) => {
  const { doc } = await checkServer(
    t,
    ['--', ...fixtureCommand('conformance-server')],
    [
      { tool: 'test_simple_text', good: {}, bad: [] as never },
      {
        tool: 'json_schema_2020_12_tool',
        good: { name: 'n', address: { street: 'Main St', city: 'X' } },
        bad: { name: 3 },
      },
    ],
  );
  const schema = doc.components.schemas[`${toolOperation(doc, 'json_schema_2020_12_tool').operationId}.input`];
  assert.equal(schema.$schema, undefined, "the document's dialect (2020-12) applies");
  assert.ok(schema.$defs.address, '$defs kept where references expect them');
  assert.equal(
    schemaValidators(doc).body('json_schema_2020_12_tool')({ extra: 1 }),
    false,
    'additionalProperties: false',
  );
});

test('ETag and If-None-Match (304); a restart with other tools makes a new document; the auth guard of /tools applies', async (t) => {
  const dir = tempDir(t);
  const token = 'openapi-test-token-0123456789';
  const auth = { authorization: `Bearer ${token}` };
  const sidecar = await launch(t, [
    '--auth',
    'bearer',
    '--auth-token-file',
    secretFile(t, `${token}\n`),
    '--restart-min',
    '100ms',
    '--',
    ...fixtureCommand('tools-by-start', join(dir, 'counter')),
  ]);
  const refused = await fetch(`${sidecar.url}/openapi.json`);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: number } }).error.code, -32000);

  const first = await fetch(`${sidecar.url}/openapi.json`, { headers: auth });
  const etag = first.headers.get('etag')!;
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
  const doc = (await first.json()) as OpenApiDoc;
  assert.ok(doc.paths['/tools/generation_1']);
  assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
  assert.ok(toolOperation(doc, 'echo').responses['401'], 'the 401 is documented when --auth asks for a token');
  await assertValidOpenApi(doc);

  const again = await fetch(`${sidecar.url}/openapi.json`, { headers: { ...auth, 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  assert.equal(await again.text(), '');
  const listOf = await fetch(`${sidecar.url}/openapi.json`, {
    headers: { ...auth, 'if-none-match': `"x", W/${etag}` },
  });
  assert.equal(listOf.status, 304, 'a list, and a weak tag, match too');

  process.kill((await readyz(sidecar.url)).body.worker.pid as number, 'SIGKILL');
  const second = await waitFor(
    async () => {
      const res = await fetch(`${sidecar.url}/openapi.json`, { headers: { ...auth, 'if-none-match': etag } });
      return res.status === 200 && res;
    },
    15_000,
    'a new document after the restart',
  );
  const newer = (await second.json()) as OpenApiDoc;
  assert.notEqual(second.headers.get('etag'), etag);
  assert.ok(newer.paths['/tools/generation_2'] && !newer.paths['/tools/generation_1'], 'the new tool list');
});

test('a client generated from the document (openapi-client-axios) calls echo through the sidecar; `mcp-sidecar openapi` prints the same operations (exit 2 for bad flags, 1 for a server that does not handshake)', async (t) => {
  const sidecar = await launch(t, ['--', ...everythingCommand()]);
  const doc = await getDocument(sidecar.url);
  // The client takes its base URL from the document's first server: the sidecar as it advertises itself.
  const api = new OpenAPIClientAxios({ definition: doc as never });
  const client = (await api.init()) as unknown as Record<string, (params: unknown, body: unknown) => Promise<any>>;
  const answer = await client.echo(null, { message: 'from a generated client' });
  assert.equal(answer.status, 200);
  assert.equal(answer.data.content[0].text, 'Echo: from a generated client');
  await assert.rejects(client['get-sum'](null, { a: 'one', b: 2 }), (err: any) => {
    assert.equal(err.response.status, 400);
    assert.match(err.response.data.error, /inputSchema of "get-sum"/);
    return true;
  });

  const { stdout } = await run(
    process.execPath,
    [
      sidecarMain,
      'openapi',
      '--name',
      'everything',
      '--advertise',
      'everything.example:8080',
      '--kong-admin',
      'http://127.0.0.1:9',
      '--',
      ...everythingCommand(),
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const printed = JSON.parse(stdout) as OpenApiDoc;
  await assertValidOpenApi(printed);
  assert.deepEqual(Object.keys(printed.paths).sort(), Object.keys(doc.paths).sort());
  assert.deepEqual(printed.components, doc.components);
  assert.deepEqual(
    printed.servers.map((s: { url: string }) => s.url),
    ['http://everything.example:8080', '{kong}/everything'],
  );

  for (const [args, code, message] of [
    [['--bogus'], 2, /unknown option --bogus/],
    [['--', '/nonexistent/server'], 1, /did not complete the handshake/],
  ] as const) {
    await assert.rejects(
      run(process.execPath, [sidecarMain, 'openapi', ...args], { timeout: 30_000 }),
      (err: Error & { code?: number; stderr?: string; stdout?: string }) => {
        assert.equal(err.code, code);
        assert.match(err.stderr ?? '', message);
        assert.equal(err.stdout, '', 'nothing that could be taken for a document');
        return true;
      },
    );
  }
});
