/**
 * Kong Admin API credentials: --kong-admin-token-file is sent as Kong-Admin-Token (Kong Enterprise RBAC) with
 * every request, --kong-ca-file lets the publisher trust an https:// Admin API signed by a private CA. Tested with
 * the Admin API contract double serving https and requiring the token: the publisher converges with both, says
 * what is wrong without either, and the token shows in no log, status, /metrics or /readyz.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { kongPublisher, type KongPublisherOptions } from '../../sidecar/mesh/kong.js';
import { privateCa, type PrivateCa } from '../support/consul-agent.js';
import { launch, secretFile } from '../support/harness.js';
import { KongAdminDouble } from '../support/kong-admin-double.js';
import { capturedLogger, testInstance, testProfile } from '../support/mesh-fixtures.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

const TOKEN = 'kong-rbac-token-that-must-never-show-7c1e';
let serial = 0;
const uniqueName = () => `adm${process.pid}x${++serial}`;

describe('Kong Admin API credentials (https with a private CA, RBAC token)', () => {
  let certs: PrivateCa;
  let kong: KongAdminDouble;
  before(async () => {
    certs = await privateCa();
    kong = await KongAdminDouble.start({ adminToken: TOKEN, tls: { key: certs.key, cert: certs.cert } });
  });
  after(async () => {
    await kong?.stop();
    await certs?.remove();
  });

  function publish(t: TestContext, opts: Partial<KongPublisherOptions>) {
    const captured = capturedLogger();
    const inst = testInstance(uniqueName(), 1);
    const p = kongPublisher(
      { adminUrl: kong.url, backoffMaxMs: 400, requestTimeoutMs: 2000, verifyIntervalMs: 60_000, ...opts },
      inst,
      captured.log,
    );
    t.after(() => p.withdraw(2000));
    const mark = kong.requests.length;
    p.publish(testProfile(['echo']));
    p.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    return { p, inst, ...captured, requests: () => kong.requests.slice(mark) };
  }

  test('with the token and the CA: converges, and every request carried the token', async (t) => {
    const { p, inst, raw, requests } = publish(t, { adminToken: TOKEN, ca: certs.ca });
    await waitFor(() => p.status().state === 'published', 5000, 'published over https with the token');
    assert.ok(kong.targetsOf(`mcp-${inst.name}`).size === 1);
    assert.ok(requests().length >= 4);
    assert.deepEqual(
      requests().filter((r) => r.adminToken !== TOKEN),
      [],
      'no request without Kong-Admin-Token',
    );
    assert.deepEqual(kong.violations, []);
    assert.ok(!raw.some((line) => line.includes(TOKEN)), 'the token is never logged');
  });

  test('a wrong or missing token: the error names --kong-admin-token-file, never the token', async (t) => {
    const wrong = publish(t, { adminToken: 'not-the-token', ca: certs.ca });
    const none = publish(t, { ca: certs.ca });
    await waitFor(() => wrong.p.status().state === 'unreachable', 5000, 'the wrong token refused');
    await waitFor(() => none.p.status().state === 'unreachable', 5000, 'no token refused');
    assert.match(wrong.p.status().lastError!, /HTTP 401.*refused the Kong-Admin-Token of --kong-admin-token-file/);
    assert.match(none.p.status().lastError!, /HTTP 401.*give an RBAC user token with --kong-admin-token-file/);
    assert.ok(!wrong.raw.some((line) => line.includes('not-the-token')), 'not even a wrong token is logged');
    assert.equal(kong.targetsOf(`mcp-${wrong.inst.name}`).size, 0);
  });

  test('without --kong-ca-file: the certificate problem is named, nothing is sent', async (t) => {
    const { p, requests } = publish(t, { adminToken: TOKEN });
    await waitFor(() => p.status().state === 'unreachable', 5000, 'unreachable over TLS');
    assert.match(p.status().lastError!, /certificate/i);
    assert.deepEqual(requests(), [], 'no request reached the Admin API');
  });

  test('the real sidecar: --kong-admin-token-file and --kong-ca-file publish; the token shows nowhere', async (t) => {
    const name = uniqueName();
    const sidecar = await launch(t, [
      ...['--name', name, '--kong-admin', kong.url],
      ...['--kong-admin-token-file', secretFile(t, `${TOKEN}\n`), '--kong-ca-file', secretFile(t, certs.ca)],
      '--',
      ...fixtureCommand('fault-tools'),
    ]);
    const address = new URL(sidecar.url).host;
    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 10_000, 'the target in Kong');
    const shown = [
      sidecar.logs(),
      await (await fetch(`${sidecar.url}/metrics`)).text(),
      await (await fetch(`${sidecar.url}/readyz`)).text(),
    ].join('\n');
    assert.ok(!shown.includes(TOKEN), 'the token is in no log, metric or /readyz');
    await sidecar.stop('SIGTERM');
    assert.equal(kong.targetsOf(`mcp-${name}`).has(address), false, 'removed on shutdown with the token');
    assert.ok(!sidecar.logs().includes(TOKEN));
  });
});
