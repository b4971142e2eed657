/**
 * Running the real sidecar in tests: spawn `dist/sidecar/main.js` as its own process (exactly what operators
 * run, with the Node flags of its bin line), wait for the line that says where it listens, and talk to it over
 * real HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binLineFlags } from '../../sidecar/bin-line.js';
import { isLive, liveProcesses, readProcStat } from '../../sidecar/child/proc-stat.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/ root (this file compiles to dist/test/support/). */
export const distRoot = join(here, '..', '..');
export const sidecarMain = join(distRoot, 'sidecar', 'main.js');
/**
 * The Node flags of main.js's bin line (`#!/usr/bin/env -S node --max-semi-space-size=1 …`), which the image and
 * `npm start` run it with too: the tests run the sidecar with them on the Node under test (process.execPath),
 * so that memory bounds are measured as operators run it (V8's default semi-spaces add tens of MB of RSS).
 */
export const sidecarNodeArgs: string[] = binLineFlags(sidecarMain);
const require = createRequire(import.meta.url);

export function everythingCommand(): string[] {
  return [process.execPath, require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
}

export function filesystemCommand(dir: string): string[] {
  return [process.execPath, require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js'), dir];
}

export function memoryCommand(): string[] {
  return [process.execPath, require.resolve('@modelcontextprotocol/server-memory/dist/index.js')];
}

export function fixtureCommand(name: string, ...args: string[]): string[] {
  return [process.execPath, join(distRoot, 'test', 'fixtures', `${name}.js`), ...args];
}

export interface RunningSidecar {
  url: string;
  proc: ChildProcess;
  pid: number;
  /** Everything the sidecar wrote to stderr (its pino log) so far. */
  logs(): string;
  /** Sends `signal` and waits for the exit (SIGKILL after 15 s so a test never hangs). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node dist/sidecar/main.js --port 0 <args>`; resolves when it prints its URL (not when READY). */
export function startSidecar(
  args: string[],
  opts: { env?: Record<string, string>; readyTimeoutMs?: number } = {},
): Promise<RunningSidecar> {
  const hasPort = args.some((a) => a === '--port' || a.startsWith('--port='));
  const proc = spawn(
    process.execPath,
    [...sidecarNodeArgs, sidecarMain, ...(hasPort ? [] : ['--port', '0']), ...args],
    {
      env: { ...process.env, MCP_SIDECAR_LOG_LEVEL: process.env.MCP_SIDECAR_LOG_LEVEL ?? 'info', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let stdout = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const running: Omit<RunningSidecar, 'url'> = {
    proc,
    pid: proc.pid!,
    logs: () => stderr,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(`sidecar printed no URL within ${opts.readyTimeoutMs ?? 15_000} ms; stderr:\n${stderr.slice(-3000)}`),
      );
    }, opts.readyTimeoutMs ?? 15_000);
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /at (http:\/\/[^ ]+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ ...running, url: match[1] });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `sidecar exited (code ${code}, signal ${signal}) before listening; stdout: ${stdout}\nstderr:\n${stderr.slice(-3000)}`,
        ),
      );
    });
  });
}

/**
 * The one polling helper of the tests: resolves with the first value of `probe` that is neither undefined nor
 * false, retrying every `intervalMs` (a probe that throws is retried too: "not listening yet"), and fails after
 * `timeoutMs` naming `what` and the last error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

export async function readyz(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Resolves with the /readyz body once it answers 200. */
export function waitForReady(url: string, timeoutMs = 20_000): Promise<Record<string, any>> {
  return waitFor(
    async () => {
      const r = await readyz(url);
      return r.status === 200 ? r.body : undefined;
    },
    timeoutMs,
    `${url}/readyz to answer 200`,
  );
}

/** Pids of the live direct and indirect children of `pid` (from /proc), to check that nothing is left behind. */
export function descendants(pid: number): number[] {
  const processes = liveProcesses();
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const p of processes) {
      if (p.ppid !== parent) continue;
      found.push(p.pid);
      walk(p.pid);
    }
  };
  walk(pid);
  return found;
}

/** The orphan guard's watcher (a `sh` under every sidecar, not a server process), from the last pid it logged. */
export function watcherPid(sidecar: RunningSidecar): number | undefined {
  const pids = [...sidecar.logs().matchAll(/"watcherPid":(\d+)/g)];
  return pids.length > 0 ? Number(pids[pids.length - 1][1]) : undefined;
}

/** The MCP server processes under a sidecar: its descendants but the orphan guard's watcher. */
export async function serverProcesses(sidecar: RunningSidecar): Promise<number[]> {
  const watcher = watcherPid(sidecar);
  return descendants(sidecar.pid).filter((pid) => pid !== watcher);
}

/** Live (not zombie) processes of a process group. */
export function groupMembers(pgid: number): number[] {
  return liveProcesses()
    .filter((p) => p.pgid === pgid)
    .map((p) => p.pid);
}

/** SIGKILL to a process the test started, resolved once it has exited (at once if it already had). */
export async function sigkill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

/**
 * Whether `pid` is a live process. A zombie (exited, not yet reaped by whoever adopted it) counts as gone: it runs
 * no code and holds no resources, and a test that waits for a process to end must not wait for its reaper.
 */
export function isRunning(pid: number): boolean {
  return isLive(readProcStat(pid));
}

export type JsonRpcMessage = Record<string, any>;

export interface RequestOptions {
  /** Every message of the exchange other than the final response (progress, logs, server requests). */
  onMessage?: (message: JsonRpcMessage) => void;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SseEvent {
  id?: string;
  data: any;
}

/** The one SSE parser of the tests: the events of a `text/event-stream` body, data parsed as JSON, ids kept. */
export async function* sseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (!data) continue; // a keep-alive comment
      const id = lines
        .find((l) => l.startsWith('id:'))
        ?.slice(3)
        .trim();
      yield { id, data: JSON.parse(data) };
    }
  }
}

/** Reads a Streamable HTTP answer: a JSON body, or an SSE stream of messages. */
export async function readMessages(res: Response, onMessage: (m: JsonRpcMessage) => void): Promise<void> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    const body = await res.json();
    for (const m of Array.isArray(body) ? body : [body]) onMessage(m);
    return;
  }
  if (!type.includes('text/event-stream') || !res.body) return;
  for await (const event of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) onMessage(event.data);
}

/**
 * A small MCP client over raw HTTP: the tests need to see statuses, headers and exact ids, which a full SDK
 * client hides. (Tests that want SDK-level behaviour use the SDK's own client.)
 */
export class McpHttpClient {
  sessionId: string | undefined;
  protocolVersion = '2025-11-25';
  private nextId = 1;

  constructor(
    readonly url: string,
    /** Sent with every request (e.g. Authorization for a sidecar with --auth bearer). */
    private readonly always: Record<string, string> = {},
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...this.always,
      ...extra,
    };
    if (this.sessionId) {
      h['mcp-session-id'] = this.sessionId;
      h['mcp-protocol-version'] = this.protocolVersion;
    }
    return h;
  }

  post(body: unknown, extra: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    return fetch(`${this.url}/mcp`, {
      method: 'POST',
      headers: this.headers(extra),
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal,
    });
  }

  async initialize(
    protocolVersion = '2025-11-25',
    capabilities: Record<string, unknown> = {},
  ): Promise<JsonRpcMessage> {
    const res = await this.post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion, capabilities, clientInfo: { name: 'test', version: '1' } },
    });
    if (res.status !== 200) throw new Error(`initialize: HTTP ${res.status}: ${await res.text()}`);
    this.sessionId = res.headers.get('mcp-session-id') ?? undefined;
    let result: JsonRpcMessage | undefined;
    await readMessages(res, (m) => {
      if (m.id === 0) result = m;
    });
    if (!result?.result) throw new Error(`initialize failed: ${JSON.stringify(result)}`);
    this.protocolVersion = result.result.protocolVersion;
    await this.notify('notifications/initialized');
    return result.result;
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<number> {
    const res = await this.post({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
    await res.text();
    return res.status;
  }

  /** Sends a request and resolves with its JSON-RPC response (result or error). */
  async request(
    method: string,
    params?: Record<string, unknown>,
    opts: RequestOptions & { id?: string | number } = {},
  ): Promise<JsonRpcMessage> {
    const id = opts.id ?? this.nextId++;
    const res = await this.post(
      { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) },
      opts.headers,
      opts.signal,
    );
    if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status}: ${await res.text()}`);
    let response: JsonRpcMessage | undefined;
    await readMessages(res, (m) => {
      if (m.id === id && !('method' in m)) response = m;
      else opts.onMessage?.(m);
    });
    if (!response) throw new Error(`${method}: the stream ended without a response for id ${JSON.stringify(id)}`);
    return response;
  }

  /** Answers a server→client request (sampling, elicitation, roots). */
  async respond(id: string | number, result: Record<string, unknown>): Promise<number> {
    const res = await this.post({ jsonrpc: '2.0', id, result });
    await res.text();
    return res.status;
  }

  async close(): Promise<number> {
    if (!this.sessionId) return 0;
    const res = await fetch(`${this.url}/mcp`, { method: 'DELETE', headers: this.headers() });
    await res.text();
    return res.status;
  }
}
