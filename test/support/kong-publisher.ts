/** A Kong publisher for contract tests: withdrawn after the test whatever happens, its requests readable. */
import type { TestContext } from 'node:test';
import { kongPublisher, type KongPublisherOptions } from '../../sidecar/mesh/kong.js';
import type { Instance } from '../../sidecar/mesh/publisher.js';
import type { KongAdminDouble } from './kong-admin-double.js';
import { capturedLogger } from './mesh-fixtures.js';

/** The publisher, its log, and the requests it made about this server (those after the call). */
export function testKongPublisher(
  t: TestContext,
  kong: KongAdminDouble,
  inst: Instance,
  opts: Partial<KongPublisherOptions> = {},
) {
  const captured = capturedLogger();
  const p = kongPublisher(
    { adminUrl: kong.url, verifyIntervalMs: 60_000, backoffMaxMs: 400, requestTimeoutMs: 2000, ...opts },
    inst,
    captured.log,
  );
  t.after(() => p.withdraw(2000));
  const mark = kong.requests.length;
  const requests = () => kong.requests.slice(mark).filter((r) => r.path.includes(`mcp-${inst.name}`));
  return { p, ...captured, requests };
}
