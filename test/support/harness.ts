/**
 * What the integration tests share on top of sidecar-process.ts: a sidecar that is stopped after the test
 * whatever happens, raw HTTP for headers fetch will not send (Host), an SSE reader that keeps event ids, and
 * small readers for tool results and metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  McpHttpClient,
  sseEvents,
  startSidecar,
  waitForReady,
  type JsonRpcMessage,
  type RunningSidecar,
  type SseEvent,
} from './sidecar-process.js';

/** A file holding `text` (a token, a CA) in a temp dir removed after the test: what --*-file options read. */
export function secretFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sidecar-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'secret');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** Starts a sidecar, stops it after the test (even on failure), and waits until it is READY unless told not to. */
export async function launch(
  t: TestContext,
  args: string[],
  opts: { ready?: boolean; env?: Record<string, string> } = {},
): Promise<RunningSidecar & { readyBody?: Record<string, any> }> {
  // A test that ends with calls in flight must not wait out the default 10 s drain on its way out.
  const grace = args.some((a) => a.startsWith('--shutdown-grace')) ? [] : ['--shutdown-grace', '2s'];
  const sidecar = await startSidecar([...grace, ...args], { env: opts.env });
  t.after(() => sidecar.stop());
  if (opts.ready === false) return sidecar;
  try {
    return { ...sidecar, readyBody: await waitForReady(sidecar.url, 20_000) };
  } catch (err) {
    throw new Error(`${(err as Error).message}\nsidecar log:\n${sidecar.logs().slice(-3000)}`, { cause: err });
  }
}

/** An initialized MCP client session, closed (DELETE) after the test. */
export async function session(
  t: TestContext,
  url: string,
  capabilities: Record<string, unknown> = {},
  protocolVersion?: string,
): Promise<McpHttpClient> {
  const client = new McpHttpClient(url);
  await client.initialize(protocolVersion, capabilities);
  t.after(() => client.close().catch(() => 0));
  return client;
}

/** The first text content of a tools/call result (JSON-RPC response or REST body). */
export function textOf(resultOrResponse: JsonRpcMessage): string {
  const result = 'jsonrpc' in resultOrResponse ? resultOrResponse.result : resultOrResponse;
  const first = result?.content?.[0];
  if (!first || first.type !== 'text')
    throw new Error(`no text content in ${JSON.stringify(resultOrResponse).slice(0, 300)}`);
  return first.text;
}

export function callTool(
  client: McpHttpClient,
  name: string,
  args: Record<string, unknown> = {},
  opts: Parameters<McpHttpClient['request']>[2] = {},
): Promise<JsonRpcMessage> {
  return client.request('tools/call', { name, arguments: args }, opts);
}

/** POST /tools/:name: the status, headers and parsed body. */
export async function rest(
  url: string,
  name: string,
  args: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}/tools/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof args === 'string' ? args : JSON.stringify(args),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the test sees the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** One sample of a Prometheus metric (summed over label sets that match `labels`). */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : Number.NaN;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

/** An HTTP request with exactly these headers (fetch will not send a Host of our choosing). */
export function raw(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const target = new URL(opts.path ?? '/mcp', url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: opts.method ?? 'POST',
        headers: opts.headers,
        setHost: !(opts.headers && 'host' in opts.headers),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () =>
      req.destroy(new Error(`no answer to ${opts.method ?? 'POST'} ${target.pathname} within 10 s`)),
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A request sent exactly as written (`head`: the request line and header lines), on its own connection: two Host
 * lines, an absolute-form target. Resolves with the one answer's status and its body, parsed when it is JSON.
 */
export function written(url: string, head: string, body = ''): Promise<{ status: number; json: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      const rest = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json: unknown;
      try {
        json = JSON.parse(rest);
      } catch {
        json = rest;
      }
      resolve({ status, json });
    });
    // Not end(): node aborts a request whose client half-closes before the answer; `Connection: close` ends it.
    socket.on('connect', () =>
      socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`),
    );
  });
}

/** Passes a body through, handing the text of each chunk to `seen` on the way. */
async function* tap(body: AsyncIterable<Uint8Array>, seen: (text: string) => void): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    seen(decoder.decode(chunk, { stream: true }));
    yield chunk;
  }
}

/** An SSE stream from /mcp (a GET, or a POST answered with a stream) read as it arrives, keeping event ids. */
export class SseReader {
  readonly events: SseEvent[] = [];
  status = 0;
  headers = new Headers();
  /** The body when the answer was not a stream (an error, or a plain JSON answer). */
  body = '';
  /** The stream as it came, comments (keep-alives) included. */
  raw = '';
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  static async open(url: string, headers: Record<string, string>, post?: unknown): Promise<SseReader> {
    const reader = new SseReader();
    const init: RequestInit =
      post === undefined
        ? { method: 'GET', headers: { accept: 'text/event-stream', ...headers } }
        : {
            method: 'POST',
            headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', ...headers },
            body: JSON.stringify(post),
          };
    const res = await fetch(`${url}/mcp`, { ...init, signal: reader.abort.signal });
    reader.status = res.status;
    reader.headers = res.headers;
    if (res.status === 200 && res.body && res.headers.get('content-type')?.includes('text/event-stream'))
      reader.done = reader.read(res.body as unknown as AsyncIterable<Uint8Array>);
    else reader.body = await res.text();
    return reader;
  }

  /** Resolves when the server ends the stream. */
  ended(): Promise<void> {
    return this.done;
  }

  private async read(body: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const event of sseEvents(tap(body, (text) => (this.raw += text)))) {
        this.events.push(event);
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      // aborted by close()
    }
  }

  /** Resolves once `count` events arrived; rejects after `timeoutMs`. */
  async waitForCount(count: number, timeoutMs: number): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `SSE stream: ${this.events.length} of ${count} events within ${timeoutMs} ms: ${JSON.stringify(this.events)}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return this.events;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The promise's value, or undefined if it takes longer than `ms` (the timer never outlives the race). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
