/**
 * `npm run mesh` as an operator sees it: the real launcher (a real Consul dev agent, real sidecars in front of
 * server-everything, -filesystem and -memory), read through the real Consul UI at /ui/ in chromium. The services
 * are listed passing; a `kill -9` of one MCP server (the child, not its sidecar) turns that instance's "MCP ping"
 * check critical, and the restart makes it pass again; SIGINT stops the mesh and leaves no process behind.
 * The sidecars restart a server after 5-10 s here (MCP_SIDECAR_RESTART_MIN=10s, with jitter), so the critical
 * state lasts long enough to be seen in a page, not only in the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserUnavailable, newPage, screenshot, startBrowser } from '../support/browser.js';
import { startLocalMesh, type LocalMesh } from '../support/local-mesh.js';
import { descendants, isRunning, waitFor } from '../support/sidecar-process.js';

const SERVICES = ['everything', 'filesystem', 'memory'];

/** The class of the "MCP ping" check on an instance's health-checks page (passing, warning, critical). */
async function mcpPingState(page: Page, url: string): Promise<string> {
  await page.goto(url);
  const check = page.locator('li.health-check-output', { has: page.locator('h2', { hasText: /^\s*MCP ping\s*$/ }) });
  await check.waitFor();
  const classes = (await check.getAttribute('class')) ?? '';
  return ['passing', 'warning', 'critical'].find((state) => classes.split(/\s+/).includes(state)) ?? classes;
}

/** Reloads the page until the check is in `state` (bounded in time and in reloads). */
async function waitForCheck(page: Page, url: string, state: string, timeoutMs: number): Promise<void> {
  let last = '';
  await waitFor(
    async () => (last = await mcpPingState(page, url)) === state,
    timeoutMs,
    `"MCP ping" ${state} in the Consul UI (last seen: ${last})`,
    250,
  );
}

/**
 * Asks the agent for its services every 10 ms until it stops answering; resolves with the mesh services it listed
 * in its last answer. Bounded: 3000 rounds at most.
 */
describe('npm run mesh, seen in the Consul UI', { skip: browserUnavailable(), timeout: 300_000 }, () => {
  let mesh: LocalMesh;
  let browser: Browser;

  before(async () => {
    mesh = await startLocalMesh({ MCP_SIDECAR_RESTART_MIN: '10s' });
    browser = await startBrowser();
  });
  after(async () => {
    await browser?.close();
    await mesh?.cleanup();
  });

  test('the three services are listed with all checks passing', async (t) => {
    assert.deepEqual(Object.keys(mesh.sidecars).sort(), SERVICES, mesh.output());
    const { page } = await newPage(t, browser);
    await page.goto(`${mesh.consulUrl}/ui/`);
    for (const name of SERVICES) {
      const row = page.locator('li.linkable', { has: page.locator(`a[href$="/services/${name}"]`) });
      await row.locator('dl.passing').waitFor();
    }
    t.diagnostic(`screenshot: ${await screenshot(page, 'consul-ui-services')}`);
    for (const name of SERVICES) {
      await page.goto(`${mesh.consulUrl}/ui/dc1/services/${name}/instances`);
      await page.getByText('All service checks passing').waitFor();
    }
  });

  test("a sidecar's status page links to its service in the Consul UI", async (t) => {
    const { page } = await newPage(t, browser);
    await page.goto(`${mesh.sidecars.memory}/`);
    const link = page.locator('#publishers a', { hasText: 'consul' });
    await page.locator('#publishers td', { hasText: 'published' }).waitFor();
    assert.equal(await link.getAttribute('href'), `${mesh.consulUrl}/ui/dc1/services/memory/instances`);
    t.diagnostic(`screenshot: ${await screenshot(page, 'status-page-memory-in-mesh')}`);
    await link.click();
    await page.getByText('All service checks passing').waitFor();
    assert.match(page.url(), /\/ui\/dc1\/services\/memory\/instances$/);
  });

  test('kill -9 of the MCP server: its "MCP ping" check goes critical, then passes after the restart', async (t) => {
    const sidecar = mesh.sidecars.everything;
    const statusOf = async () => (await (await fetch(`${sidecar}/`)).json()) as Record<string, any>;
    const before = await statusOf();
    const serverPid = before.worker.pid as number;
    const sidecarPid = [...mesh.seen.keys()].find((pid) => descendants(pid).includes(serverPid));
    assert.ok(sidecarPid, `pid ${serverPid} runs under one of the mesh's sidecars`);
    const { port } = new URL(sidecar);
    const checks = `${mesh.consulUrl}/ui/dc1/services/everything/instances/local-mesh/everything-127.0.0.1-${port}/health-checks`;
    const { page } = await newPage(t, browser);
    assert.equal(await mcpPingState(page, checks), 'passing');

    process.kill(serverPid, 'SIGKILL');
    await waitForCheck(page, checks, 'critical', 10_000);
    t.diagnostic(`screenshot: ${await screenshot(page, 'consul-ui-mcp-ping-critical')}`);
    assert.ok(isRunning(sidecarPid), 'the sidecar itself still runs');

    await waitForCheck(page, checks, 'passing', 40_000);
    await screenshot(page, 'consul-ui-mcp-ping-passing-again');
    const afterRestart = await statusOf();
    assert.notEqual(afterRestart.worker.pid, serverPid, 'a new server process');
    assert.equal(afterRestart.worker.restarts, 1);

    // The status page tells the same story: one restart, and why.
    await page.goto(`${sidecar}/`);
    const facts = page.locator('#server');
    await facts.getByText('killed by SIGKILL').waitFor();
    const restarts = await facts.locator('dt:text-is("restarts") + dd').textContent();
    assert.equal(restarts, '1');
    t.diagnostic(`screenshot: ${await screenshot(page, 'status-page-after-restart')}`);
  });

  test('SIGINT stops the sidecars, then Consul, and leaves no process behind', async () => {
    const processes = [...mesh.seen.keys()].filter(isRunning);
    assert.ok(processes.length >= 7, `Consul, 3 sidecars and 3 servers at least: ${processes.length} live`);
    mesh.proc.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('no exit within 60 s'), 60_000)));
    const exit = await Promise.race([mesh.exited, timeout]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, mesh.output());
    const stops = mesh.output().match(/^mesh: (sidecar \w+|Consul agent) stopped$/gm) ?? [];
    assert.deepEqual(
      stops.map((line) => line.startsWith('mesh: Consul')),
      [false, false, false, true],
      'the three sidecars stopped before Consul',
    );
    // Asked by the launcher after the sidecars stopped and before Consul did, so no poll races the shutdown.
    assert.match(mesh.output(), /^mesh: every sidecar deregistered from Consul\nmesh: Consul agent stopped$/m);
    await waitFor(() => processes.every((pid) => !isRunning(pid)), 5_000, 'every process of the mesh to end');
    await assert.rejects(fetch(`${mesh.consulUrl}/v1/status/leader`), 'Consul no longer listens');
  });
});
