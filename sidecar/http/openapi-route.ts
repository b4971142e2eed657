/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the REST facade (openapi/document.ts) for the live tool list.
 * Rendered once per profile and tool set (a tools/list_changed or a restart with other tools makes a new profile,
 * hence a new document), served with a strong ETag so a gateway or a client generator can revalidate with
 * If-None-Match and get 304 while the tools stay the same.
 *
 * With --tool-scope the document lists what this caller may call, as GET /tools does: a document that listed
 * tools the caller cannot call would generate a client whose calls answer 404, and would tell every caller which
 * tools the others have. Such documents are `Cache-Control: private`, like the lists.
 */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { callerOf } from '../mcp/caller.js';
import type { WorkerSource } from '../mcp/pool.js';
import type { ServerProfile } from '../mcp/profile.js';
import type { Router } from '../mcp/router.js';
import type { ToolPolicy } from '../mcp/tool-policy.js';
import { openApiDocument, type DocumentOptions } from '../openapi/document.js';
import { sendJsonText } from './reply.js';
import { sendNotReady } from './rest-tools.js';

interface Rendered {
  text: string;
  etag: string;
}

/** Tool sets rendered per profile; more than this (many scope combinations) starts the profile's cache afresh. */
const MAX_VARIANTS = 64;

/** Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 wants for If-None-Match). */
export function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => bare(tag) === bare(etag));
}

export class OpenApiRoute {
  private readonly rendered = new WeakMap<ServerProfile, Map<string, Rendered>>();

  constructor(
    private readonly router: Router,
    private readonly workers: WorkerSource,
    private readonly policy: ToolPolicy,
    /** Servers and auth; a function because the advertised address is known only once the sidecar listens. */
    private readonly options: () => DocumentOptions,
    private readonly listTtlMs: number,
  ) {}

  serve = async (req: Request, res: Response): Promise<void> => {
    await this.router.stateless.available();
    const worker = this.workers.anyWorker();
    if (!worker) return sendNotReady(res, this.workers);
    const tools = this.policy.filterFor(worker.profile.tools, callerOf(req));
    const { text, etag } = this.render(worker.profile, tools);
    const scope = this.policy.scoped ? 'private' : 'public';
    const headers = { etag, 'cache-control': `${scope}, max-age=${Math.floor(this.listTtlMs / 1000)}` };
    if (ifNoneMatch(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    sendJsonText(res, 200, text, headers);
  };

  private render(profile: ServerProfile, tools: Tool[]): Rendered {
    let variants = this.rendered.get(profile);
    if (!variants) this.rendered.set(profile, (variants = new Map()));
    const key = tools.map((t) => t.name).join('\u0000');
    let rendered = variants.get(key);
    if (!rendered) {
      if (variants.size >= MAX_VARIANTS) variants.clear();
      const text = JSON.stringify(openApiDocument(profile, tools, this.options()));
      rendered = { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
      variants.set(key, rendered);
    }
    return rendered;
  }
}
