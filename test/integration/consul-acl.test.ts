/**
 * Consul least privilege, proven with a real agent enforcing ACLs (default deny): the real sidecar, given a
 * token made from consul/sidecar-policy.hcl, registers, keeps its TTL check passing and deregisters; given a
 * token without service:write it says which rule is missing, keeps serving, and registers nothing. The token
 * shows nowhere: not in the log, /metrics, /readyz or any error message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ConsulInstances } from '../../sidecar/mesh/consul-instances.js';
import { aclToken, sidecarPolicyRules, startAclAgent, type ConsulAgent } from '../support/consul-agent.js';
import {
  agentService,
  checkStatuses,
  CHECK_TTL_MS,
  serviceIdOf,
  sidecarWithConsul,
  uniqueName,
} from '../support/consul-sidecar.js';
import { rest, secretFile, sleep } from '../support/harness.js';
import { fixtureCommand, waitFor, waitForReady, type RunningSidecar } from '../support/sidecar-process.js';

/** Everything the sidecar shows the world about itself: its log, /metrics and /readyz. */
async function everythingShown(sidecar: RunningSidecar): Promise<string> {
  const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
  const readyz = await (await fetch(`${sidecar.url}/readyz`)).text();
  return `${sidecar.logs()}\n${metrics}\n${readyz}`;
}

describe('Consul least privilege (ACLs enforced, default deny)', () => {
  let consul: ConsulAgent;
  before(async () => {
    consul = await startAclAgent();
  });
  after(() => consul?.stop());

  const start = (t: TestContext, name: string, token: string) =>
    sidecarWithConsul(t, consul, name, fixtureCommand('fault-tools'), ['--consul-token-file', secretFile(t, token)]);

  test('a token of consul/sidecar-policy.hcl registers, keeps the TTL check passing and deregisters', async (t) => {
    const name = uniqueName('acl');
    const token = await aclToken(consul, `mcp-sidecar-${name}`, sidecarPolicyRules(name));
    const sidecar = await start(t, name, token);
    await waitForReady(sidecar.url);
    const id = serviceIdOf(name, sidecar.url);
    await waitFor(async () => (await checkStatuses(consul, id))['mcp-ping']?.Status === 'passing', 10_000, 'passing');
    // Passing for longer than one TTL: the sidecar's TTL updates went through with this token.
    await sleep(CHECK_TTL_MS + 1000);
    assert.equal((await checkStatuses(consul, id))['mcp-ping']?.Status, 'passing', 'TTL updates are allowed');
    assert.ok(await agentService(consul, id));
    // The lookup a replica makes to forward an MRTR retry to the instance holding its call (node:read included).
    const instances = new ConsulInstances({ url: consul.url, token, service: name, timeoutMs: 5000 });
    t.after(() => instances.close());
    const found = await waitFor(() => instances.passing(id), 10_000, 'the instance in the replicas lookup', 200);
    assert.deepEqual(found, { address: '127.0.0.1', port: Number(new URL(sidecar.url).port) });
    assert.ok(!(await everythingShown(sidecar)).includes(token), 'the token shows nowhere');

    const { code } = await sidecar.stop('SIGTERM');
    assert.equal(code, 0);
    assert.equal(await agentService(consul, id), undefined, 'deregistered with the same token');
    assert.ok(!sidecar.logs().includes(token), 'not even while shutting down');
  });

  test('a token without service:write: a clear error naming the rule, still serving, nothing registered', async (t) => {
    const name = uniqueName('acl-read');
    const readOnly = sidecarPolicyRules(name).replace('policy = "write"', 'policy = "read"');
    const token = await aclToken(consul, `mcp-sidecar-read-${name}`, readOnly);
    const sidecar = await start(t, name, token);
    await waitForReady(sidecar.url);

    const consulState = async () => {
      const body = (await (await fetch(`${sidecar.url}/readyz`)).json()) as {
        publishers?: Array<{ kind?: string; registry?: string; state: string; lastError?: string }>;
      };
      return body.publishers?.find((p) => p.lastError !== undefined);
    };
    const failed = await waitFor(consulState, 10_000, 'the Consul publisher to report its error');
    assert.match(failed.lastError!, /HTTP 403/);
    assert.match(failed.lastError!, new RegExp(`service "${name}" \\{ policy = "write" \\}`), 'names the rule');
    assert.match(sidecar.logs(), /service:write/);

    // Still serving: a REST call and /readyz answer while Consul refuses.
    const call = await rest(sidecar.url, 'echo', { still: 'serving' });
    assert.equal(call.status, 200);
    const id = serviceIdOf(name, sidecar.url);
    assert.equal(await agentService(consul, id), undefined, 'nothing registered');
    const catalog = await consul.get(`/v1/catalog/service/${name}`);
    assert.deepEqual(catalog.body, [], 'nothing in the catalog either');
    assert.ok(!(await everythingShown(sidecar)).includes(token), 'the token shows nowhere');
  });
});
