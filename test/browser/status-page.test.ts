/**
 * The status page at GET /, in a real chromium: it lists server-everything's tools (with the real sidecar in front
 * of the real server), its echo form calls the tool through the REST facade under the page's
 * Content-Security-Policy and the Host/Origin guard, and markup in a server's tool texts stays text. Scripts keep
 * getting JSON from GET /.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserUnavailable, newPage, screenshot, startBrowser } from '../support/browser.js';
import { launch, secretFile } from '../support/harness.js';
import { everythingCommand, fixtureCommand } from '../support/sidecar-process.js';
import { MARKUP_DESCRIPTION, MARKUP_NAME, MARKUP_RESULT } from '../fixtures/lib/markup.js';

const skip = browserUnavailable();

describe('the status page, in chromium', { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  before(async () => {
    browser = await startBrowser();
  });
  after(() => browser?.close());

  test('shows server-everything, its tools, and the echo form answers "Echo: …"', async (t) => {
    const sidecar = await launch(t, ['--name', 'everything', '--', ...everythingCommand()]);
    const { tools } = (await (await fetch(`${sidecar.url}/tools`)).json()) as { tools: { name: string }[] };
    assert.ok(
      tools.some((tool) => tool.name === 'echo'),
      'server-everything lists echo',
    );

    const { page, errors } = await newPage(t, browser);
    const response = await page.goto(`${sidecar.url}/`);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('#state', { hasText: 'ready' }).waitFor();
    assert.equal(await page.locator('#name').textContent(), 'everything');
    await page
      .locator('section.tool')
      .nth(tools.length - 1)
      .waitFor();
    assert.deepEqual(
      await page.locator('section.tool h3').allTextContents(),
      tools.map((tool) => tool.name),
      'every tool of GET /tools, in order',
    );
    const serverFacts = await page.locator('#server').textContent();
    assert.match(serverFacts ?? '', /Everything Reference Server/);
    assert.match(serverFacts ?? '', /2026-07-28/, 'the modern era is listed');

    const echo = page.locator('section.tool[data-tool="echo"]');
    assert.match((await echo.locator('p').textContent()) ?? '', /echo/i, 'the tool description is shown');
    await echo.locator('textarea').fill(JSON.stringify({ message: 'hello from chromium' }));
    await echo.locator('button').click();
    await echo.locator('pre.result', { hasText: 'Echo: hello from chromium' }).waitFor();
    const shot = await screenshot(page, 'status-page-everything');
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(errors, [], 'no script error and no CSP violation on the page');
  });

  test('tool names, descriptions and results that are markup are shown as text', async (t) => {
    const sidecar = await launch(t, ['--name', 'markup', '--', ...fixtureCommand('markup-tools')]);
    const { page } = await newPage(t, browser);
    await page.goto(`${sidecar.url}/`);
    const tool = page.locator('section.tool').first();
    await tool.waitFor();
    assert.equal(await tool.locator('h3').textContent(), MARKUP_NAME);
    assert.equal(await tool.locator('p').textContent(), MARKUP_DESCRIPTION);
    await tool.locator('button').click();
    await tool.locator('pre.result', { hasText: MARKUP_RESULT }).waitFor();
    assert.equal(await page.locator('#tools img, #tools script, #tools b').count(), 0, 'no element made of them');
    assert.equal(await page.evaluate(() => (window as any).__markupRan), undefined, 'none of them ran');
    await screenshot(page, 'status-page-markup');
  });
});

describe('GET / for scripts', () => {
  test('Accept: application/json (or any type) gets the status document; a browser gets HTML', async (t) => {
    const sidecar = await launch(t, ['--name', 'everything', '--', ...everythingCommand()]);
    for (const accept of ['application/json', '*/*']) {
      const res = await fetch(`${sidecar.url}/`, { headers: { accept } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as Record<string, any>;
      assert.equal(body.status, 'ready');
      assert.equal(body.name, 'everything');
      assert.equal(body.server.title, 'Everything Reference Server');
      assert.equal(body.worker.state, 'ready');
      assert.equal(typeof body.inflight, 'number');
    }
    const html = await fetch(`${sidecar.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await html.text(), /<script type="module" src="\/status-page.js">/);
  });

  test('the page is guarded like /tools: a foreign Origin is refused, --auth bearer asks for the token', async (t) => {
    const tokens = secretFile(t, 'status-page-test-token\n');
    const sidecar = await launch(t, [
      '--name',
      'everything',
      '--auth',
      'bearer',
      '--auth-token-file',
      tokens,
      '--',
      ...everythingCommand(),
    ]);
    const authorization = 'Bearer status-page-test-token';
    const foreign = await fetch(`${sidecar.url}/`, { headers: { origin: 'https://evil.example', authorization } });
    assert.equal(foreign.status, 403);
    for (const path of ['/', '/status-page.js']) {
      assert.equal((await fetch(`${sidecar.url}${path}`)).status, 401, `${path} without the token`);
      assert.equal((await fetch(`${sidecar.url}${path}`, { headers: { authorization } })).status, 200, path);
    }
  });
});
