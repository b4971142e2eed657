/**
 * Issue 4 end to end without Docker: the real sidecar process (`--kong-admin`) in front of the real
 * server-everything, publishing to the Kong Admin API contract double. Checks the lead's wiring and the publisher
 * together: READY → target added, server killed → target withdrawn at once, restarted → added again,
 * SIGTERM → target removed before the process exits. Every request must satisfy Kong's OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launch } from '../support/harness.js';
import { KongAdminDouble } from '../support/kong-admin-double.js';
import { everythingCommand, readyz, waitFor } from '../support/sidecar-process.js';

describe('the sidecar publishes to Kong (real sidecar, Admin API contract double)', () => {
  let kong: KongAdminDouble;
  before(async () => {
    kong = await KongAdminDouble.start();
  });
  after(() => kong.stop());

  test('READY adds the target; a killed server withdraws it at once; READY again re-adds it; SIGTERM removes it', async (t) => {
    const name = `kong-it-${process.pid}`;
    const started = Date.now();
    const sidecar = await launch(t, [
      '--name',
      name,
      '--kong-admin',
      kong.url,
      '--ping-interval',
      '500ms',
      '--restart-min',
      '1s',
      '--restart-max',
      '1s',
      '--',
      ...everythingCommand(),
    ]);
    const address = new URL(sidecar.url).host;
    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 10_000, 'the target in Kong');
    t.diagnostic(`published ${Date.now() - started} ms after start`);
    assert.deepEqual(kong.routes.get(`mcp-${name}`)?.paths, [`/${name}`]);
    // The publisher says 'published' once its loop has seen everything converge (a step after the last answer).
    const ready = await waitFor(
      async () => {
        const r = await readyz(sidecar.url);
        return (
          r.body.publishers.some(
            (p: { publisher: string; state: string }) => p.publisher === 'kong' && p.state === 'published',
          ) && r
        );
      },
      5000,
      "publisher state 'published' in /readyz",
    );

    const pid = ready.body.worker.pid as number;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !kong.targetsOf(`mcp-${name}`).has(address), 5000, 'the target withdrawn');
    const withdrawnMs = Date.now() - killedAt;
    t.diagnostic(`target withdrawn ${withdrawnMs} ms after the kill`);
    assert.ok(withdrawnMs < 2000, `withdrawn at once, not after a ping timeout (${withdrawnMs} ms)`);
    assert.ok(kong.upstreams.has(`mcp-${name}`) && kong.routes.has(`mcp-${name}`), 'shared entities stay');

    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 15_000, 'the target re-added after the restart');
    t.diagnostic(`re-added ${Date.now() - killedAt} ms after the kill (restart delay 1 s)`);

    const stopped = await sidecar.stop('SIGTERM');
    assert.equal(stopped.code, 0, sidecar.logs().slice(-2000));
    assert.ok(!kong.targetsOf(`mcp-${name}`).has(address), 'removed on SIGTERM');
    assert.deepEqual(kong.violations, []);
    const logs = sidecar.logs();
    assert.match(logs, /published to Kong/);
    assert.match(logs, /Kong target .* removed/);
  });

  test('Kong down at start: the sidecar serves anyway, reports the publisher unreachable, and publishes once Kong is up', async (t) => {
    const name = `kong-down-${process.pid}`;
    await kong.down();
    t.after(() => kong.up());
    const sidecar = await launch(t, ['--name', name, '--kong-admin', kong.url, '--', ...everythingCommand()]);
    const tools = await fetch(`${sidecar.url}/tools`);
    assert.equal(tools.status, 200, 'serving does not wait for Kong');
    await waitFor(
      async () =>
        (await readyz(sidecar.url)).body.publishers.find((p: { publisher: string }) => p.publisher === 'kong')
          ?.state === 'unreachable',
      10_000,
      'publisher unreachable in /readyz',
    );
    assert.equal(
      (await readyz(sidecar.url)).status,
      200,
      'still ready: a registry being down is not the server being down',
    );
    await kong.up();
    const address = new URL(sidecar.url).host;
    // Backoff is capped at 30 s; the first retries come much sooner.
    await waitFor(() => kong.targetsOf(`mcp-${name}`).has(address), 40_000, 'published after Kong came back');
    assert.deepEqual(kong.violations, []);
  });
});
