/**
 * --session-mode isolated: each session gets a server process of its own (a warm spare when one is ready), the
 * process ends with its session, and opening and closing many sessions leaves no process behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, rest, session, textOf, within } from '../support/harness.js';
import {
  fixtureCommand,
  isRunning,
  McpHttpClient,
  readyz,
  serverProcesses,
  waitFor,
} from '../support/sidecar-process.js';

test('two sessions get two different server processes, neither of them the primary', async (t) => {
  const sidecar = await launch(t, [
    '--session-mode',
    'isolated',
    '--warm',
    '1',
    '--',
    ...fixtureCommand('paged-tools'),
  ]);
  const primary: number = sidecar.readyBody!.worker.pid;
  await waitFor(async () => (await readyz(sidecar.url)).body.isolated?.spares === 1, 5000, 'a warm spare');
  const a = await session(t, sidecar.url);
  const b = await session(t, sidecar.url);
  const pidA = Number(textOf(await callTool(a, 'pid')));
  const pidB = Number(textOf(await callTool(b, 'pid')));
  assert.notEqual(pidA, pidB);
  assert.ok(pidA !== primary && pidB !== primary, 'sessions never share the primary');
  assert.equal(Number(textOf(await callTool(a, 'pid'))), pidA, 'a session keeps its process');
  assert.equal(Number(textOf((await rest(sidecar.url, 'pid', {})).body)), primary, 'REST calls go to the primary');

  assert.equal(await a.close(), 200);
  await waitFor(() => !isRunning(pidA), 5000, "the closed session's process to end");
  assert.ok(isRunning(pidB), 'the other session keeps its own');
});

test('a session whose process dies is closed: its client gets 404 and starts anew', async (t) => {
  const sidecar = await launch(t, ['--session-mode', 'isolated', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const pid = Number(textOf(await callTool(client, 'pid')));
  const inFlight = callTool(client, 'slow', { ms: 30_000 }, { id: 'in-flight' });
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, 'the call in flight');
  process.kill(pid, 'SIGKILL');
  const failed = await within(inFlight, 2000);
  assert.ok(failed, 'the call in flight was left hanging');
  assert.equal(failed.id, 'in-flight');
  assert.equal(failed.error?.code, -32002);
  assert.match(failed.error.message, /killed by SIGKILL/);
  await waitFor(async () => (await readyz(sidecar.url)).body.sessions === 0, 5000, 'the session to be closed');
  const res = await client.post({ jsonrpc: '2.0', id: 9, method: 'tools/list' });
  assert.equal(res.status, 404);
  await res.text();
  const fresh = await session(t, sidecar.url);
  assert.notEqual(Number(textOf(await callTool(fresh, 'pid'))), pid);
  assert.equal((await readyz(sidecar.url)).status, 200, 'the instance stays ready: its primary is fine');
});

test('100 sessions opened and closed leave no server process behind', async (t) => {
  const sidecar = await launch(t, [
    '--session-mode',
    'isolated',
    '--warm',
    '1',
    '--',
    ...fixtureCommand('paged-tools'),
  ]);
  const primary: number = sidecar.readyBody!.worker.pid;
  const pids: number[] = [];
  for (let round = 0; round < 10; round++) {
    const clients = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const client = new McpHttpClient(sidecar.url);
        await client.initialize();
        return client;
      }),
    );
    for (const client of clients) pids.push(Number(textOf(await callTool(client, 'pid'))));
    for (const client of clients) assert.equal(await client.close(), 200);
  }
  assert.equal(new Set(pids).size, 100, 'every session had its own process');
  await waitFor(() => pids.every((pid) => !isRunning(pid)), 10_000, 'every session process to end');
  const left = await waitFor(
    async () => {
      const tree = await serverProcesses(sidecar);
      return tree.length <= 2 ? tree : undefined; // the primary and at most one warm spare
    },
    10_000,
    'only the primary and the warm spare to remain',
  );
  assert.ok(left.includes(primary), `the primary is still there: ${left}`);
  assert.equal((await readyz(sidecar.url)).body.sessions, 0);
});
