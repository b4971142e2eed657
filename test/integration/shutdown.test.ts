/**
 * SIGTERM: the sidecar stops taking new work, lets calls in flight finish, then ends the server's whole process
 * group (stdin close, SIGTERM, SIGKILL), and exits 0 with no process of the server left behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, session, textOf, within } from '../support/harness.js';
import { descendants, fixtureCommand, isRunning, readyz, waitFor } from '../support/sidecar-process.js';

test('SIGTERM: an in-flight call completes during the drain, then no server process is left', async (t) => {
  // A drain that outlasts the 2 s call (launch's default grace is 2 s, which the call would only just fit in).
  const sidecar = await launch(t, ['--shutdown-grace', '5s', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const call = callTool(client, 'slow', { ms: 2000, steps: 4 });
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, 'the call in flight');
  const tree = descendants(sidecar.pid);
  assert.ok(tree.includes(sidecar.readyBody!.worker.pid), `the server runs under the sidecar: ${tree}`);

  sidecar.proc.kill('SIGTERM');
  const draining = await waitFor(
    async () => {
      const r = await readyz(sidecar.url);
      return r.status === 503 ? r : undefined;
    },
    1500,
    '/readyz to turn 503 while draining',
  );
  assert.equal(draining.body.status, 'draining', 'not ready while draining, so balancers stop sending');
  const init = await fetch(`${sidecar.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  assert.equal(init.status, 503, 'no new sessions while draining');

  const response = await call;
  assert.equal(textOf(response), 'done', `the call in flight finished: ${JSON.stringify(response)}`);
  const exit = await within(sidecar.exited, 10_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  for (const pid of tree) assert.equal(isRunning(pid), false, `process ${pid} outlived the sidecar`);
  assert.match(sidecar.logs(), /SIGTERM received/);
  assert.match(sidecar.logs(), /"msg":"stopped"/);
});

test('SIGTERM: a server that ignores stdin close and SIGTERM is SIGKILLed with its grandchild', async (t) => {
  const sidecar = await launch(t, ['--stop-timeout', '300ms', '--', ...fixtureCommand('stubborn')]);
  const client = await session(t, sidecar.url);
  const family = JSON.parse(textOf(await callTool(client, 'family'))) as { pid: number; grandchild: number };
  assert.ok(isRunning(family.pid) && isRunning(family.grandchild));
  const started = performance.now();
  const exit = await sidecar.stop('SIGTERM');
  t.diagnostic(
    `sidecar exited ${Math.round(performance.now() - started)} ms after SIGTERM (stdin grace 300 ms + SIGTERM grace 300 ms)`,
  );
  assert.deepEqual(exit, { code: 0, signal: null });
  await waitFor(
    () => !isRunning(family.pid) && !isRunning(family.grandchild),
    2000,
    'the server and its grandchild to be gone',
  );
  assert.match(sidecar.logs(), /ignored stdin close and SIGTERM; sending SIGKILL to its process group/);
});

test('SIGTERM: a call that outlasts --shutdown-grace gets an error, not a hang', async (t) => {
  const sidecar = await launch(t, ['--shutdown-grace', '300ms', '--', ...fixtureCommand('paged-tools')]);
  const client = await session(t, sidecar.url);
  const call = callTool(client, 'slow', { ms: 30_000 });
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, 'the call in flight');
  const serverPid: number = sidecar.readyBody!.worker.pid;
  sidecar.proc.kill('SIGTERM');
  const response = await within(call, 5000);
  assert.ok(response, 'the call was left hanging');
  assert.equal(response.error?.code, -32002);
  assert.match(response.error.message, /shutting down/);
  assert.deepEqual(await within(sidecar.exited, 10_000), { code: 0, signal: null });
  assert.equal(isRunning(serverPid), false);
  assert.match(sidecar.logs(), /shutdown grace ran out/);
});

test('a second SIGTERM does not wait: the server group is killed and the sidecar exits 1', async (t) => {
  const sidecar = await launch(t, ['--shutdown-grace', '30s', '--', ...fixtureCommand('stubborn')]);
  const client = await session(t, sidecar.url);
  const family = JSON.parse(textOf(await callTool(client, 'family'))) as { pid: number; grandchild: number };
  void callTool(client, 'slow', { ms: 30_000 }).catch(() => undefined);
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 1, 5000, 'the call in flight');
  sidecar.proc.kill('SIGTERM');
  await waitFor(() => /SIGTERM received/.test(sidecar.logs()), 3000, 'the first signal to be handled');
  sidecar.proc.kill('SIGTERM');
  const exit = await within(sidecar.exited, 5000);
  assert.deepEqual(exit, { code: 1, signal: null });
  await waitFor(() => !isRunning(family.pid) && !isRunning(family.grandchild), 3000, 'the server group to be killed');
  assert.match(sidecar.logs(), /second signal: killing the MCP server now/);
});
