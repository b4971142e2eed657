/**
 * The sidecar in front of real MCP servers from npm: server-filesystem on a temp dir, server-memory with its
 * file in a temp dir, and server-everything (echo, get-sum, progress from a long operation, and sampling that
 * the test client answers through its session's stream).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { callTool, launch, rest, session, textOf } from '../support/harness.js';
import {
  everythingCommand,
  filesystemCommand,
  memoryCommand,
  type JsonRpcMessage,
} from '../support/sidecar-process.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('server-filesystem: read a file over REST and over MCP', async (t) => {
  const dir = await tempDir(t, 'sidecar-fs-');
  await writeFile(join(dir, 'hello.txt'), 'hello from the mesh\nsecond line\n');
  const sidecar = await launch(t, ['--', ...filesystemCommand(dir)]);

  const viaRest = await rest(sidecar.url, 'read_text_file', { path: join(dir, 'hello.txt') });
  assert.equal(viaRest.status, 200, JSON.stringify(viaRest.body));
  assert.equal(viaRest.body.content[0].text, 'hello from the mesh\nsecond line\n');
  const head = await rest(sidecar.url, 'read_text_file', { path: join(dir, 'hello.txt'), head: 1 });
  assert.equal(head.body.content[0].text, 'hello from the mesh');

  const client = await session(t, sidecar.url);
  const listing = await callTool(client, 'list_directory', { path: dir });
  assert.match(textOf(listing), /\[FILE\] hello\.txt/);
  const read = await callTool(client, 'read_text_file', { path: join(dir, 'hello.txt') });
  assert.equal(textOf(read), 'hello from the mesh\nsecond line\n');

  // Outside the allowed directory: the server refuses, and the refusal is a tool error, not an HTTP failure.
  const outside = await rest(sidecar.url, 'read_text_file', { path: '/etc/hostname' });
  assert.equal(outside.status, 200);
  assert.equal(outside.body.isError, true);
  assert.match(outside.body.content[0].text, /outside allowed directories|Access denied/i);
  const wrongArgs = await rest(sidecar.url, 'read_text_file', { file: 'x' });
  assert.equal(wrongArgs.status, 400, 'the server-declared inputSchema is enforced before the call');
});

test('server-memory: create an entity, then read the graph, across REST and MCP', async (t) => {
  const dir = await tempDir(t, 'sidecar-memory-');
  const sidecar = await launch(t, ['--env', `MEMORY_FILE_PATH=${join(dir, 'memory.jsonl')}`, '--', ...memoryCommand()]);
  const created = await rest(sidecar.url, 'create_entities', {
    entities: [{ name: 'sidecar', entityType: 'program', observations: ['bridges stdio to HTTP'] }],
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const client = await session(t, sidecar.url);
  await callTool(client, 'add_observations', {
    observations: [{ entityName: 'sidecar', contents: ['registers in Consul'] }],
  });
  const graph = await callTool(client, 'read_graph', {});
  const parsed = JSON.parse(textOf(graph)) as { entities: Array<{ name: string; observations: string[] }> };
  const entity = parsed.entities.find((e) => e.name === 'sidecar');
  assert.ok(entity, textOf(graph));
  assert.deepEqual(entity.observations, ['bridges stdio to HTTP', 'registers in Consul']);
});

test('server-everything: echo, get-sum, progress of a long operation, and sampling answered by the client', async (t) => {
  const sidecar = await launch(t, ['--', ...everythingCommand()]);
  const { tools } = (await (await fetch(`${sidecar.url}/tools`)).json()) as { tools: Array<{ name: string }> };
  for (const name of ['echo', 'get-sum', 'trigger-long-running-operation'])
    assert.ok(
      tools.some((tool) => tool.name === name),
      name,
    );

  assert.equal((await rest(sidecar.url, 'echo', { message: 'over REST' })).body.content[0].text, 'Echo: over REST');
  const client = await session(t, sidecar.url, { sampling: {} });
  assert.equal(textOf(await callTool(client, 'echo', { message: 'over MCP' })), 'Echo: over MCP');
  assert.match(textOf(await callTool(client, 'get-sum', { a: 2, b: 40 })), /42/);

  const progress: JsonRpcMessage[] = [];
  const long = await client.request(
    'tools/call',
    {
      name: 'trigger-long-running-operation',
      arguments: { duration: 0.6, steps: 3 },
      _meta: { progressToken: 'op-1' },
    },
    { onMessage: (m) => void (m.method === 'notifications/progress' && progress.push(m)) },
  );
  assert.match(textOf(long), /Long running operation completed/);
  assert.deepEqual(
    progress.map((p) => [p.params.progressToken, p.params.progress, p.params.total]),
    [
      ['op-1', 1, 3],
      ['op-1', 2, 3],
      ['op-1', 3, 3],
    ],
  );

  // server-everything registers trigger-sampling-request only for a server-side client that can sample; the
  // sidecar introduces itself to the server as one and relays the request to the session whose call caused it.
  const asked: JsonRpcMessage[] = [];
  const sampled = await client.request(
    'tools/call',
    { name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 5 } },
    {
      onMessage: (m) => {
        if (m.method !== 'sampling/createMessage') return;
        asked.push(m);
        void client.respond(m.id, {
          role: 'assistant',
          content: { type: 'text', text: 'hi from the test client' },
          model: 'test-model',
          stopReason: 'endTurn',
        });
      },
    },
  );
  assert.equal(asked.length, 1);
  assert.match(JSON.stringify(asked[0].params.messages), /say hi/);
  assert.match(textOf(sampled), /hi from the test client/);
  assert.match(textOf(sampled), /test-model/);
});
