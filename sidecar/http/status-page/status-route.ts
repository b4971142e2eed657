/**
 * GET / and GET /status-page.js. A browser (Accept prefers text/html) gets the status page; anything else, a
 * script with `Accept: application/json`, curl's default Accept (any type) or none at all, gets the status document as JSON.
 * The page carries a Content-Security-Policy that allows only its own script, its hashed inline style and fetches
 * to this origin, so even markup that slipped into the page could neither run nor send anything elsewhere.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import { sendJson } from '../reply.js';
import { STATUS_PAGE_HTML, STATUS_PAGE_STYLE } from './page-html.js';

export const STATUS_SCRIPT_PATH = '/status-page.js';

const styleHash = createHash('sha256').update(STATUS_PAGE_STYLE).digest('base64');

export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'sha256-${styleHash}'`,
  "connect-src 'self'",
  // data: for the page's empty icon, which spares the browser a request for /favicon.ico (404).
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const pageHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The compiled browser script beside this file, read on first use (a sidecar nobody looks at never reads it). */
let script: string | undefined;
function pageScript(): string {
  script ??= readFileSync(new URL('./page-script.js', import.meta.url), 'utf8').replace(
    /\n\/\/# sourceMappingURL=.*\s*$/,
    '\n',
  );
  return script;
}

export function statusRoutes(status: () => Record<string, unknown>) {
  return {
    root(req: Request, res: Response): void {
      // Vary: a cache must not hand the page to a script or the JSON to a browser.
      if (req.accepts(['json', 'html']) !== 'html') return sendJson(res, 200, status(), { vary: 'accept' });
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(STATUS_PAGE_HTML),
        'content-security-policy': STATUS_PAGE_CSP,
        vary: 'accept',
        ...pageHeaders,
      });
      res.end(STATUS_PAGE_HTML);
    },
    script(_req: Request, res: Response): void {
      const body = pageScript();
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...pageHeaders,
      });
      res.end(body);
    },
  };
}
