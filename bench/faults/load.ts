/**
 * The load a fault happens under: a closed loop (each caller has one call in flight and sends the next when the
 * answer is in and checked), MCP sessions and REST callers side by side, every call classified as ok, failed
 * (answered with an error or a wrong answer) or hung (no answer within the hung bound).
 *
 * bench/closed-loop.ts measures a fixed window; a fault needs a loop it can stop at any moment (when the scenario
 * kills the sidecar on purpose, or on Ctrl-C in the soak run), so the loop is here and the MCP session is the
 * benchmark's own (bench/load-client.ts).
 */
import { Pool } from 'undici';
import { HttpMcpSession, type JsonRpcMessage } from '../load-client.js';

/** Requests of a fault row: ok, failed, hung. The first few failure reasons are kept for the notes. */
export class Tally {
  ok = 0;
  failed = 0;
  hung = 0;
  readonly samples: string[] = [];

  fail(reason: string): void {
    this.failed++;
    this.sample(`failed: ${reason}`);
  }

  hang(reason: string): void {
    this.hung++;
    this.sample(`hung: ${reason}`);
  }

  add(other: Tally): void {
    this.ok += other.ok;
    this.failed += other.failed;
    this.hung += other.hung;
    for (const s of other.samples) this.sample(s);
  }

  private sample(text: string): void {
    const line = text.slice(0, 200);
    if (this.samples.length < 5 && !this.samples.includes(line)) this.samples.push(line);
  }
}

/** undici's own "no answer in time" errors: the request hung. */
export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || (err as Error).name === 'TimeoutError'
  );
}

/**
 * The text an echo tool answered, for the two echo dialects the suite meets: server-everything's
 * `Echo: <message>` and the test fixtures' JSON of the arguments. Anything else is a wrong answer.
 */
export function checkEcho(text: string, message: string): void {
  if (text === `Echo: ${message}`) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not the fixtures' dialect either
  }
  if ((parsed as { message?: unknown } | undefined)?.message !== message)
    throw new Error(`wrong reply: expected the echo of "${message}", got ${JSON.stringify(text.slice(0, 120))}`);
}

function resultText(result: JsonRpcMessage | undefined): string {
  if (!result || result.isError) throw new Error(`tool error: ${JSON.stringify(result).slice(0, 200)}`);
  const text = result.content?.[0]?.text;
  if (typeof text !== 'string') throw new Error(`no text content: ${JSON.stringify(result).slice(0, 200)}`);
  return text;
}

export interface Caller {
  /** One echo round trip; throws on an error or a wrong answer. */
  call(message: string): Promise<void>;
  close(): Promise<void>;
}

/** An MCP session that opens (again) when it has none: after a 404 (its isolated process died) clients re-initialize. */
class McpCaller implements Caller {
  private readonly session: HttpMcpSession;

  constructor(pool: Pool, hungMs: number) {
    this.session = new HttpMcpSession(pool, '/mcp', hungMs);
  }

  async call(message: string): Promise<void> {
    try {
      if (!this.session.sessionId) await this.session.open();
      const response = await this.session.request('tools/call', { name: 'echo', arguments: { message } });
      if (response.error) throw new Error(`JSON-RPC error ${response.error.code}: ${response.error.message}`);
      checkEcho(resultText(response.result), message);
    } catch (err) {
      if (/HTTP 404/.test((err as Error).message)) this.session.sessionId = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.session.close().catch(() => undefined);
  }
}

/** POST /tools/echo, as a plain API consumer calls a tool. */
class RestCaller implements Caller {
  constructor(
    private readonly pool: Pool,
    private readonly hungMs: number,
  ) {}

  async call(message: string): Promise<void> {
    const res = await this.pool.request({
      path: '/tools/echo',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
      headersTimeout: this.hungMs,
      bodyTimeout: this.hungMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`REST HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    checkEcho(resultText(JSON.parse(text)), message);
  }

  async close(): Promise<void> {}
}

export interface LoadOptions {
  mcp: number;
  rest: number;
  hungMs: number;
  /** Pause before each call: the machine is shared, and a fault needs a load, not a saturated CPU. */
  paceMs: number;
  tag: string;
}

export class Load {
  readonly tally = new Tally();
  private readonly pool: Pool;
  private readonly callers: Caller[];
  private stopped = false;
  private loops: Promise<void>[] = [];
  private stopping: Promise<Tally> | undefined;

  constructor(
    origin: string,
    private readonly opts: LoadOptions,
  ) {
    this.pool = new Pool(origin, { connections: opts.mcp + opts.rest, pipelining: 1, keepAliveTimeout: 10_000 });
    this.callers = [
      ...Array.from({ length: opts.mcp }, () => new McpCaller(this.pool, opts.hungMs)),
      ...Array.from({ length: opts.rest }, () => new RestCaller(this.pool, opts.hungMs)),
    ];
  }

  start(): this {
    this.loops = this.callers.map((caller, i) => this.loop(caller, i));
    return this;
  }

  private async loop(caller: Caller, index: number): Promise<void> {
    for (let seq = 0; !this.stopped; seq++) {
      await new Promise((r) => setTimeout(r, this.opts.paceMs));
      if (this.stopped) return;
      const started = Date.now();
      try {
        await caller.call(`${this.opts.tag}-${index}-${seq}`);
        this.tally.ok++;
      } catch (err) {
        const reason = (err as Error).message;
        if (isTimeout(err) || Date.now() - started >= this.opts.hungMs) this.tally.hang(reason);
        else this.tally.fail(reason);
        // a sidecar that fails at once must not turn the loop into a busy spin
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops sending; each caller finishes its call in flight (bounded by the hung bound), then sessions close. */
  stop(): Promise<Tally> {
    this.stopping ??= (async () => {
      this.stopped = true;
      await Promise.all(this.loops);
      await Promise.all(this.callers.map((c) => c.close()));
      await this.pool.destroy();
      return this.tally;
    })();
    return this.stopping;
  }
}
