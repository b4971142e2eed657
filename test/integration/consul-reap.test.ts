/**
 * Issue 3: a sidecar killed with SIGKILL cannot deregister, so its registration must carry
 * DeregisterCriticalServiceAfter and the agent must reap it by itself. Consul's minimum is 1m and the agent
 * reaps every 30 s, so this file takes one and a half minutes; it is a file of its own so the runner overlaps
 * it with the others.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startConsulAgent } from '../support/consul-agent.js';
import {
  agentService,
  CHECK_TTL_MS,
  checkStatuses,
  serviceIdOf,
  sidecarWithConsul,
  uniqueName,
} from '../support/consul-sidecar.js';
import { fixtureCommand, waitFor, waitForReady } from '../support/sidecar-process.js';

test('kill -9 of the sidecar: the agent reaps the service after --deregister-after', async (t) => {
  const consul = await startConsulAgent();
  t.after(() => consul.stop());
  const scratch = await mkdtemp(join(tmpdir(), 'mcp-sidecar-consul-reap-'));
  t.after(() => rm(scratch, { recursive: true, force: true }));

  const name = uniqueName('reap');
  const deregisterAfterMs = 60_000;
  const sidecar = await sidecarWithConsul(t, consul, name, fixtureCommand('tools-by-start', join(scratch, 'counter')), [
    '--deregister-after',
    '1m',
  ]);
  const id = serviceIdOf(name, sidecar.url);
  await waitForReady(sidecar.url);
  await waitFor(
    async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing',
    10_000,
    'registered and passing',
  );

  const killed = Date.now();
  await sidecar.stop('SIGKILL');
  await waitFor(
    async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'critical',
    CHECK_TTL_MS + 3000,
    'the TTL check to expire',
    50,
  );
  const toCritical = Date.now() - killed;
  t.diagnostic(`TTL check critical ${toCritical} ms after the SIGKILL (TTL ${CHECK_TTL_MS} ms)`);
  assert.equal(
    (await consul.get(`/v1/health/service/${name}?passing`)).body.length,
    0,
    'not offered as passing while it waits to be reaped',
  );

  // Critical for deregister-after, then the agent's next reap pass (every 30 s): bounded by TTL + 60 s + 30 s.
  const bound = CHECK_TTL_MS + deregisterAfterMs + 30_000 + 15_000;
  await waitFor(
    async () => (await agentService(consul, id)) === undefined,
    bound,
    'the agent to reap the service',
    500,
  );
  const reapedAfter = Date.now() - killed;
  t.diagnostic(
    `reaped ${reapedAfter} ms after the SIGKILL (deregister-after ${deregisterAfterMs} ms, reaper period 30 s)`,
  );
  assert.ok(reapedAfter >= deregisterAfterMs, `reaped after ${reapedAfter} ms: not before deregister-after`);
  await waitFor(
    async () => !((await consul.get('/v1/catalog/services')).body as Record<string, unknown>)[name],
    10_000,
    'gone from the catalog too',
  );
});
