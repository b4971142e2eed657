/**
 * No request lost across a restart: requests that arrive while the server is starting or restarting wait for it
 * (--ready-wait), and calls of readOnly/idempotent tools in flight when it dies are sent again (--retry-idempotent).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, metric, session, textOf } from '../support/harness.js';
import {
  fixtureCommand,
  McpHttpClient,
  startSidecar,
  waitFor,
  type JsonRpcMessage,
} from '../support/sidecar-process.js';

async function serverPid(url: string): Promise<number> {
  return (await (await fetch(`${url}/readyz`)).json()).worker.pid;
}

test('requests that arrive while a killed server restarts wait for it: none fails, none hangs', async (t) => {
  const sidecar = await launch(t, ['--restart-min', '300ms', '--', ...fixtureCommand('fault-tools')]);
  const clients = await Promise.all(Array.from({ length: 4 }, () => session(t, sidecar.url)));
  let killedAt = Infinity;
  const afterKill = { ok: 0, failed: [] as string[] };
  let stop = false;
  const answers: Array<{ sentAt: number; answer: JsonRpcMessage }> = [];
  const loop = async (client: McpHttpClient) => {
    for (let n = 0; !stop && n < 5000; n++) {
      const sentAt = Date.now();
      let answer: JsonRpcMessage;
      try {
        answer = await callTool(client, 'echo', { n });
      } catch (err) {
        answer = { error: { message: (err as Error).message } };
      }
      if (sentAt > killedAt) answers.push({ sentAt, answer });
      if (answer.result && sentAt > killedAt) afterKill.ok++;
    }
  };
  const loops = clients.map(loop);
  await waitFor(async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_calls_total')) > 200, 10_000, 'load running');
  const pid = await serverPid(sidecar.url);
  killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  await waitFor(
    async () => (await serverPid(sidecar.url)) !== pid && (await fetch(`${sidecar.url}/readyz`)).status === 200,
    10_000,
    'a new server',
  );
  await waitFor(() => afterKill.ok > 200, 10_000, 'calls after the restart');
  stop = true;
  await Promise.all(loops);
  // The crash as the sidecar saw it (its log line's time): requests written to the process in the milliseconds
  // between the kill and that moment were in flight when it died, and fail like any call in flight.
  const down = /"time":(\d+),[^\n]*MCP server down/.exec(sidecar.logs());
  assert.ok(down, 'the sidecar logged the crash');
  const sawCrashAt = Number(down[1]);
  assert.ok(sawCrashAt - killedAt < 500, `the crash was seen ${sawCrashAt - killedAt} ms after the kill`);
  for (const { sentAt, answer } of answers)
    if (sentAt > sawCrashAt && !answer.result) afterKill.failed.push(JSON.stringify(answer).slice(0, 200));
  assert.deepEqual(afterKill.failed, [], `${afterKill.failed.length} requests sent after the crash failed`);
});

test('initialize sent the moment the port opens waits for the handshake instead of failing', async (t) => {
  const sidecar = await startSidecar(['--shutdown-grace', '1s', '--', ...fixtureCommand('fault-tools')]);
  t.after(() => sidecar.stop());
  const clients = Array.from({ length: 8 }, () => new McpHttpClient(sidecar.url));
  const results = await Promise.allSettled(clients.map((c) => c.initialize()));
  assert.deepEqual(
    results.map((r) => r.status),
    Array(8).fill('fulfilled'),
    JSON.stringify(results.find((r) => r.status === 'rejected')),
  );
  assert.equal(textOf(await callTool(clients[0], 'echo', { early: true })), '{"early":true}');
  await Promise.all(clients.map((c) => c.close()));
});

test('a readOnly or idempotent tool in flight when the server dies is retried once on the restarted server; other tools fail at once', async (t) => {
  const sidecar = await launch(t, ['--restart-min', '200ms', '--', ...fixtureCommand('fault-tools')]);
  const client = await session(t, sidecar.url);
  const readOnly = callTool(client, 'slow-readonly', { ms: 1000, steps: 1, tag: 'ro' });
  const idempotent = callTool(client, 'slow-idempotent', { ms: 1000, steps: 1, tag: 'idem' });
  const write = callTool(client, 'slow-write', { ms: 1000, steps: 1, tag: 'w' });
  const unhinted = callTool(client, 'slow', { ms: 1000, steps: 1, tag: 'plain' });
  const rest = fetch(`${sidecar.url}/tools/slow-readonly`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"ms":1000,"steps":1,"tag":"rest"}',
  });
  await waitFor(
    async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 5,
    3000,
    'five calls in flight',
  );
  process.kill(await serverPid(sidecar.url), 'SIGKILL');
  // Neither a destructive tool nor one without any hint may run twice: both fail with the reason.
  for (const failed of [await write, await unhinted]) {
    assert.equal(failed.error?.code, -32002, JSON.stringify(failed));
    assert.match(failed.error.message, /killed by SIGKILL .* while this request was in flight/);
  }
  // Answered after the kill: the restarted server ran them (once each, says the counter).
  assert.equal(textOf(await readOnly), 'done ro');
  assert.equal(textOf(await idempotent), 'done idem', 'idempotentHint alone is enough to retry');
  assert.equal(textOf(await (await rest).json()), 'done rest');
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_idempotent_retries_total'), 3);
});

test('--ready-wait 0 keeps failing fast while the server restarts; --no-retry-idempotent fails readOnly calls too', async (t) => {
  const sidecar = await launch(t, [
    '--ready-wait',
    '0',
    '--no-retry-idempotent',
    '--restart-min',
    '1s',
    '--',
    ...fixtureCommand('fault-tools'),
  ]);
  const client = await session(t, sidecar.url);
  const readOnly = callTool(client, 'slow-readonly', { ms: 1000, steps: 1 });
  await waitFor(async () => (await metric(sidecar.url, 'mcp_sidecar_rpc_inflight')) === 1, 3000, 'the call in flight');
  process.kill(await serverPid(sidecar.url), 'SIGKILL');
  assert.equal((await readOnly).error?.code, -32002);
  const during = await callTool(client, 'echo', {});
  assert.equal(during.error?.code, -32002);
  assert.match(during.error.message, /restarting/);
});
