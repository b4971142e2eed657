/**
 * A server process that dies, hangs or never starts: in-flight calls fail at once with an error that says the
 * process exited, /readyz follows the live process (503 while it is down, 200 once a new one has handshaken),
 * a hung server is found by ping and replaced, and a crash loop stops restarting and says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callTool, launch, metric, rest, session, sleep, textOf, within } from '../support/harness.js';
import {
  fixtureCommand,
  isRunning,
  readyz,
  serverProcesses,
  waitFor,
  waitForReady,
} from '../support/sidecar-process.js';

/** /readyz once it says the supervisor gave up (crash loop), within 10 s. */
function untilFailed(url: string) {
  return waitFor(
    async () => {
      const r = await readyz(url);
      return r.body.status === 'failed' ? r : undefined;
    },
    10_000,
    '/readyz to say failed',
  );
}

test('kill -9 of the server: in-flight calls fail within 1 s, /readyz turns 503, then 200 with a new process', async (t) => {
  // --restart-min 1s keeps the sidecar in backoff long enough to see what clients get meanwhile; --ready-wait 0
  // makes them get it at once instead of waiting for the restart (restart-wait.test.ts covers the waiting).
  const sidecar = await launch(t, [
    '--restart-min',
    '1s',
    '--restart-max',
    '2s',
    '--ready-wait',
    '0',
    '--',
    ...fixtureCommand('paged-tools'),
  ]);
  const pid: number = sidecar.readyBody!.worker.pid;
  const client = await session(t, sidecar.url);

  const mcpCalls = [
    callTool(client, 'slow', { ms: 30_000 }, { id: 'a' }),
    callTool(client, 'slow', { ms: 30_000 }, { id: 1 }),
  ];
  const restCall = rest(sidecar.url, 'slow', { ms: 30_000 });
  await waitFor(async () => (await readyz(sidecar.url)).body.inflight === 3, 5000, 'three calls in flight');

  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  const timed = <T>(p: Promise<T>) => p.then((r) => ({ r, ms: performance.now() - killedAt }));
  const [first, second, restFailure] = await Promise.all([timed(mcpCalls[0]), timed(mcpCalls[1]), timed(restCall)]);
  const settled = [first, second, restFailure];
  const slowest = Math.max(...settled.map((s) => s.ms));
  t.diagnostic(
    `in-flight calls failed ${settled.map((s) => Math.round(s.ms)).join(', ')} ms after kill -9 (bound: 1000 ms)`,
  );
  assert.ok(slowest < 1000, `calls took ${Math.round(slowest)} ms to fail`);

  for (const { r } of [first, second]) {
    assert.equal(r.error?.code, -32002, JSON.stringify(r));
    assert.match(r.error.message, /MCP server process killed by SIGKILL.*while this request was in flight/);
  }
  assert.deepEqual([first.r.id, second.r.id], ['a', 1], 'each error carries its own id');
  assert.equal(restFailure.r.status, 503);
  assert.match(restFailure.r.body.error, /killed by SIGKILL/);

  const down = await readyz(sidecar.url);
  assert.equal(down.status, 503, JSON.stringify(down.body));
  assert.notEqual(down.body.status, 'ready');
  assert.match(down.body.reason, /killed by SIGKILL/);
  assert.equal(isRunning(pid), false);

  // Meanwhile: REST and new sessions get 503 with Retry-After; the open session gets a JSON-RPC error.
  const refused = await rest(sidecar.url, 'echo', {});
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
  assert.match(refused.body.error, /not ready.*restarting after/);
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
  assert.equal(init.status, 503);
  assert.ok(init.headers.get('retry-after'));
  const duringBackoff = await callTool(client, 'echo', {});
  assert.equal(duringBackoff.error?.code, -32002);
  assert.ok(duringBackoff.error.data?.retryAfterSeconds >= 1);

  const back = await waitForReady(sidecar.url, 10_000);
  assert.notEqual(back.worker.pid, pid, 'a new process');
  assert.equal(back.worker.restarts, 1);
  assert.equal(
    textOf(await callTool(client, 'echo', { again: true })),
    '{"again":true}',
    'the same session works again',
  );
  assert.equal(await metric(sidecar.url, 'mcp_sidecar_child_restarts_total'), 1);
  assert.match(sidecar.logs(), /MCP server down: MCP server process killed by SIGKILL/);
});

test('a server that exits on call N fails that call with its exit code, and is restarted', async (t) => {
  const sidecar = await launch(t, ['--restart-min', '100ms', '--', ...fixtureCommand('crash-after', '3')]);
  const client = await session(t, sidecar.url);
  assert.ok((await callTool(client, 'echo', { n: 1 })).result);
  assert.ok((await callTool(client, 'echo', { n: 2 })).result);
  const third = await callTool(client, 'echo', { n: 3 });
  assert.equal(third.error?.code, -32002);
  assert.match(third.error.message, /exited with code 3 \(unexpectedly\)/);
  await waitForReady(sidecar.url, 10_000);
  assert.ok((await callTool(client, 'echo', { n: 4 })).result, 'the restarted server answers');
  assert.match(
    sidecar.logs(),
    /crash-after: exiting on tools\/call number 3/,
    "the server's stderr is in the sidecar log",
  );
});

test('a hung server is found by ping, killed and restarted', async (t) => {
  const sidecar = await launch(t, [
    '--ping-interval',
    '200ms',
    '--ping-timeout',
    '200ms',
    '--ping-misses',
    '2',
    '--restart-min',
    '100ms',
    '--',
    ...fixtureCommand('hang'),
  ]);
  const pid: number = sidecar.readyBody!.worker.pid;
  const hungAt = performance.now();
  const stuck = rest(sidecar.url, 'hang', {});
  const back = await waitFor(
    async () => {
      const r = await readyz(sidecar.url);
      return r.status === 200 && r.body.worker.pid !== pid ? r.body : undefined;
    },
    10_000,
    'a new server process after the hang',
  );
  t.diagnostic(
    `hung server replaced ${Math.round(performance.now() - hungAt)} ms after it stopped answering (ping 200ms x 2 misses)`,
  );
  assert.equal(isRunning(pid), false, 'the hung process was killed');
  assert.equal(back.worker.restarts, 1);
  const failed = await stuck;
  assert.equal(failed.status, 503);
  assert.match(failed.body.error, /stopped answering: 2 pings in a row/);
  assert.match(sidecar.logs(), /MCP ping failed/);
  assert.match(sidecar.logs(), /killed it as hung/);
  assert.equal((await rest(sidecar.url, 'echo', { ok: 1 })).status, 200);
});

test('a server that never answers initialize is killed after --handshake-timeout and counts as a failure', async (t) => {
  const sidecar = await launch(
    t,
    [
      '--handshake-timeout',
      '300ms',
      '--crash-loop-restarts',
      '2',
      '--restart-min',
      '50ms',
      '--',
      ...fixtureCommand('hang', '--after-ms', '0'),
    ],
    { ready: false },
  );
  const failed = await untilFailed(sidecar.url);
  assert.equal(failed.status, 503);
  assert.match(failed.body.worker.lastFailure.reason, /initialize got no answer within \d+ ms/);
  assert.deepEqual(await serverProcesses(sidecar), [], 'the silent servers were killed, not left running');
});

test('a server that exits during initialize crash-loops: restarts stop, /readyz says failed and why, the log says so', async (t) => {
  const sidecar = await launch(
    t,
    [
      '--crash-loop-restarts',
      '3',
      '--restart-min',
      '50ms',
      '--restart-max',
      '100ms',
      '--',
      ...fixtureCommand('exit-on-init', '7'),
    ],
    { ready: false },
  );
  const failed = await untilFailed(sidecar.url);
  assert.equal(failed.status, 503);
  assert.equal(failed.body.worker.state, 'failed');
  assert.match(failed.body.reason, /crash-looped \(3 failures in the window\) and is no longer restarted/);
  assert.match(failed.body.worker.lastFailure.reason, /exited with code 7/);
  assert.match(sidecar.logs(), /crash-looped \(3 failures within 60s\): no more restarts/);
  const starts = () => sidecar.logs().split('exit-on-init: missing configuration').length - 1;
  assert.equal(starts(), 3);
  // A fixed wait, as what is checked is that nothing happens: five times --restart-max, so a restart that was
  // still scheduled would have logged its start by then.
  await sleep(500);
  assert.equal(starts(), 3, 'no restart after the crash loop was declared');
  assert.equal(sidecar.proc.exitCode, null, 'without --exit-on-failure the sidecar stays up to report it');
  assert.deepEqual(await serverProcesses(sidecar), [], 'no server process left running');
  const refused = await rest(sidecar.url, 'echo', {});
  assert.equal(refused.status, 503);
  assert.ok(refused.headers.get('retry-after'));
  assert.match(refused.body.error, /crash-looped/);
});

test('--exit-on-failure: a crash loop makes the sidecar exit non-zero', async (t) => {
  const sidecar = await launch(
    t,
    [
      '--exit-on-failure',
      '--crash-loop-restarts',
      '2',
      '--restart-min',
      '50ms',
      '--',
      ...fixtureCommand('exit-on-init'),
    ],
    { ready: false },
  );
  const exit = await within(sidecar.exited, 10_000);
  assert.ok(exit, 'the sidecar did not exit within 10 s');
  assert.notEqual(exit.code, 0);
  assert.equal(exit.signal, null);
  assert.match(sidecar.logs(), /crash-looped/);
});

test('a command that does not exist: the log, /readyz and the crash loop say "command not found" and name it', async (t) => {
  const missing = '/nonexistent/mcp-server-that-is-not-there';
  const sidecar = await launch(t, ['--crash-loop-restarts', '2', '--restart-min', '50ms', '--', missing], {
    ready: false,
  });
  const failed = await untilFailed(sidecar.url);
  assert.match(
    failed.body.worker.lastFailure.reason,
    /command not found: "\/nonexistent\/mcp-server-that-is-not-there"\. Check the command after "--" and the PATH/,
  );
  assert.match(sidecar.logs(), /MCP server down: could not start the MCP server: command not found/);
  assert.doesNotMatch(sidecar.logs(), /could not be sent/, 'the cause, not its consequence');
});
