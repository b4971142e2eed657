/**
 * A real browser for the tests: Debian's chromium (installed by scripts/test-setup.sh when missing) driven by
 * playwright-core, which downloads no browser of its own. Without the background-networking flags Chromium keeps
 * dialling hosts this machine cannot reach. Screenshots go to one folder under dist/ (gitignored), printed once.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { distRoot } from './sidecar-process.js';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no ${CHROMIUM}: scripts/test-setup.sh installs Debian's chromium when run as root (apt-get install -y chromium)`;
}

/** A headless chromium; the caller closes it (a suite's `after`). */
export function startBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 60_000 });
}

/** A fresh page (its own context: no cookies or cache shared between tests) that fails the test on a page error. */
export async function newPage(t: TestContext, browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return { page, errors };
}

let announced = false;

/** The folder the browser tests write their screenshots to (dist/test-output/screenshots). */
export function screenshotDir(): string {
  const dir = join(distRoot, 'test-output', 'screenshots');
  mkdirSync(dir, { recursive: true });
  if (!announced) process.stdout.write(`# browser screenshots: ${dir}\n`);
  announced = true;
  return dir;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(screenshotDir(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
