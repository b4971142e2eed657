/**
 * The HTTP side of a registry publisher (Consul agent API, Kong Admin API): a small keep-alive pool, the one
 * request in flight (so a withdrawal can abort a slow register), and errors that name the request, the answer
 * and what to do about it. The publishers decide what to send; this only sends it.
 */
import { Pool } from 'undici';

export type RegistryMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/** A registry's "not found": the entity or service this instance believed in is gone. */
export function isNotFound(err: unknown): boolean {
  return err instanceof RegistryError && err.statusCode === 404;
}

export interface RegistryClientOptions {
  /** Base URL (scheme, host, port and an optional path prefix). */
  url: URL;
  timeoutMs: number;
  /** PEM CA to trust instead of the system CAs (https only). */
  ca?: string;
  /** Sent with every request (e.g. Consul's ACL token). Never logged. */
  headers?: Record<string, string>;
  /** What the operator should check when the registry refuses a request with this status ('' = nothing to add). */
  hint(status: number, method: RegistryMethod): string;
}

export class RegistryClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private inflight: AbortController | undefined;

  constructor(private readonly opts: RegistryClientOptions) {
    this.basePath = opts.url.pathname.replace(/\/+$/, '');
    const timeout = opts.timeoutMs;
    const connect = opts.ca ? { timeout, ca: opts.ca } : { timeout };
    this.pool = new Pool(opts.url.origin, { connections: 2, connect, headersTimeout: timeout, bodyTimeout: timeout });
  }

  /** One request; resolves with the parsed JSON answer (or text), throws RegistryError on anything but 2xx. */
  async request(method: RegistryMethod, path: string, body?: unknown): Promise<unknown> {
    const abort = new AbortController();
    this.inflight = abort;
    const headers: Record<string, string> = { ...this.opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Messages leave out the query string: it is noise in a log line, and some registries accept tokens there.
    const shown = path.replace(/\?.*$/, '');
    try {
      const res = await this.pool.request({
        method,
        path: this.basePath + path,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return text ? safeJson(text) : undefined;
      throw refused(method, shown, res.statusCode, text, this.opts.hint);
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw unanswered(method, `${this.opts.url.origin}${this.basePath}${shown}`, err);
    } finally {
      if (this.inflight === abort) this.inflight = undefined;
    }
  }

  /** Aborts the request in flight, if any (a withdrawal must not wait behind a slow register). */
  abort(): void {
    this.inflight?.abort();
  }

  /** Aborts what is in flight and closes the connections. */
  close(): void {
    this.abort();
    void this.pool.close().catch(() => undefined);
  }
}

/** The registry answered with an error status: the request, the answer, and what the operator should check. */
export function refused(
  method: RegistryMethod,
  path: string,
  status: number,
  body: string,
  hint: RegistryClientOptions['hint'],
): RegistryError {
  return new RegistryError(
    `${method} ${path}: HTTP ${status} ${body.trim().slice(0, 300)}${hint(status, method)}`,
    status,
  );
}

/** No answer at all (refused connection, TLS, timeout): the request, where it went, and the network error. */
export function unanswered(method: RegistryMethod, url: string, err: unknown): RegistryError {
  const e = err as Error & { code?: string };
  return new RegistryError(`${method} ${url}: ${e.code ? `${e.code} ` : ''}${e.message}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
