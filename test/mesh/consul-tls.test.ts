/**
 * The Consul publisher against a real agent that serves its API over TLS, with a certificate from a private CA
 * (made by the agent binary itself: `consul tls ca create`, `consul tls cert create -server`). With the CA given
 * (--consul-ca-file / CONSUL_CACERT) the publisher registers; without it, it reports the agent unreachable with
 * the TLS error and registers nothing.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReconcilingPublisher } from '../../sidecar/mesh/reconciling-publisher.js';
import { consulPublisher } from '../../sidecar/mesh/consul.js';
import {
  freePort,
  privateCa,
  startConsulAgent,
  startReadyzStub,
  type ConsulAgent,
  type PrivateCa,
} from '../support/consul-agent.js';
import { capturedLogger, testInstance, testProfile } from '../support/mesh-fixtures.js';
import { waitFor } from '../support/sidecar-process.js';

const PROFILE = testProfile(['echo']);

describe('ConsulPublisher against an agent with TLS (private CA)', () => {
  let consul: ConsulAgent;
  let certs: PrivateCa | undefined;
  let httpsUrl: string;
  let ca: string;
  let readyz: Server;
  let readyzPort: number;
  const publishers: ReconcilingPublisher[] = [];

  before(async () => {
    certs = await privateCa();
    const certDir = certs.dir;
    ca = certs.ca;
    const httpsPort = await freePort();
    consul = await startConsulAgent({
      hcl: `ports { https = ${httpsPort} }
tls {
  defaults {
    ca_file = "${join(certDir, 'consul-agent-ca.pem')}"
    cert_file = "${join(certDir, 'dc1-server-consul-0.pem')}"
    key_file = "${join(certDir, 'dc1-server-consul-0-key.pem')}"
    verify_incoming = false
  }
}`,
    });
    httpsUrl = `https://127.0.0.1:${httpsPort}`;
    ({ server: readyz, port: readyzPort } = await startReadyzStub());
  });

  after(async () => {
    await Promise.all(publishers.map((p) => p.withdraw(2000)));
    readyz?.close();
    await consul?.stop();
    await certs?.remove();
  });

  function make(name: string, caPem: string | undefined) {
    const inst = testInstance(name, readyzPort);
    const { log, lines } = capturedLogger();
    const publisher = consulPublisher(
      {
        url: httpsUrl,
        ca: caPem,
        deregisterAfterMs: 60_000,
        checkTtlMs: 3000,
        tags: [],
        readyzUrl: `http://127.0.0.1:${readyzPort}/readyz`,
      },
      inst,
      log,
    );
    publishers.push(publisher);
    return { publisher, inst, lines };
  }

  test('with the CA: registers over https and the service is listed', async () => {
    const { publisher, inst } = make(`tls-ok-${process.pid}`, ca);
    publisher.publish(PROFILE);
    publisher.report({ status: 'passing', latencyMs: 1, toolCount: 1 });
    await waitFor(() => publisher.status().state === 'published', 10_000, 'published over https');
    const svc = await consul.get(`/v1/agent/service/${encodeURIComponent(inst.serviceId)}`);
    assert.equal(svc.status, 200);
    assert.deepEqual(svc.body.Tags.slice(0, 1), ['mcp']);
  });

  test('without the CA: unreachable with the TLS error in the status, and nothing registered', async () => {
    const { publisher, inst, lines } = make(`tls-noca-${process.pid}`, undefined);
    publisher.publish(PROFILE);
    await waitFor(() => publisher.status().state === 'unreachable', 10_000, 'unreachable');
    assert.match(publisher.status().lastError ?? '', /certificate/i, 'the error names the certificate problem');
    assert.ok(lines.some((l) => /Consul unreachable or failing/.test(l.msg)));
    const svc = await consul.get(`/v1/agent/service/${encodeURIComponent(inst.serviceId)}`);
    assert.equal(svc.status, 404);
  });
});
