/**
 * A worker is one handshaken MCP server process and the JSON-RPC client side of its stdio: it owns the
 * child's id space and the table of calls in flight, runs the handshake, pings the server, and fails every
 * call in flight the moment the process dies. The router decides what the calls mean; the supervisor decides
 * when to start another worker.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import { LATEST_PROTOCOL_VERSION } from './protocol-versions.js';
import type { Logger } from '../log.js';
import { idFromHead, idFromTail } from '../child/line-framer.js';
import { StdioChild, type ChildSpec, type ExitInfo, type StopTimings } from '../child/stdio-child.js';
import {
  ErrorCode,
  kindOf,
  type JsonRpcErrorObject,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import { MAX_SERVER_MESSAGE_DEPTH } from './json-depth.js';
import { toolsHash, type ServerProfile } from './profile.js';

/** A call in flight at the child, keyed by the child-side id the worker gave it. */
export interface PendingCall {
  settle(response: JsonRpcResponse): void;
  /** A `notifications/progress` whose token is this call's child id. */
  progress(notification: JsonRpcNotification): void;
  fail(error: JsonRpcErrorObject): void;
}

export interface WorkerHooks {
  /** A request from the server to a client (sampling, elicitation, roots, ping). */
  serverRequest(worker: Worker, request: JsonRpcRequest): void;
  /** A notification the worker does not consume itself (logging, list_changed, resource updates, …). */
  notification(worker: Worker, notification: JsonRpcNotification): void;
  /** A response to a server→client request travels the other way; garbage and liveness are reported here. */
  garbageLine(worker: Worker, line: string, reason: string): void;
  pingResult(worker: Worker, result: { ok: true; latencyMs: number } | { ok: false; reason: string; misses: number }): void;
  profileChanged(worker: Worker, profile: ServerProfile): void;
}

export interface WorkerOptions {
  child: ChildSpec;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Missed pings in a row after which the server counts as hung and is killed. */
  pingMisses: number;
  clientInfo: { name: string; version: string };
  /** The client's own initialize params (isolated mode); otherwise the sidecar introduces itself. */
  clientInitialize?: Record<string, unknown>;
}

export type WorkerState = 'handshaking' | 'ready' | 'unhealthy' | 'exited';

/**
 * What the sidecar tells a server it can do. Sampling and elicitation are relayed to whichever client caused
 * the request (or answered with an error when none can); roots are not claimed, because a server that asks for
 * roots at start-up would get an answer no client gave.
 */
const SIDECAR_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

const MAX_LIST_PAGES = 1000;
let workerSeq = 0;

export class Worker {
  readonly seq = ++workerSeq;
  readonly exited: Promise<ExitInfo>;
  state: WorkerState = 'handshaking';
  profile!: ServerProfile;
  /** The server said its tools changed before the handshake's profile was complete: re-read once READY. */
  private toolsChangedDuringHandshake = false;
  /** The client's initialize result when this worker was handshaken with a client's own initialize. */
  initializeResult?: Record<string, unknown>;
  lastPing?: { at: number; latencyMs: number };
  readonly startedAt = Date.now();

  private readonly child: StdioChild;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingMisses = 0;
  private killReason: string | undefined;

  private constructor(
    private readonly opts: WorkerOptions,
    private readonly hooks: WorkerHooks,
    private readonly log: Logger,
  ) {
    this.child = new StdioChild(
      opts.child,
      {
        message: (value) => this.onMessage(value),
        garbage: (line, reason) => hooks.garbageLine(this, line, reason),
        oversized: (bytes, tail, head) =>
          this.failUnrelayable(head, tail, `the MCP server's reply was ${bytes} bytes, over the sidecar's --max-message limit of ${opts.child.maxMessageBytes} bytes; raise --max-message or ask for less`, `line of ${bytes} bytes over --max-message`),
        tooDeep: (tail, head) =>
          this.failUnrelayable(head, tail, `the MCP server's reply nests deeper than ${MAX_SERVER_MESSAGE_DEPTH} levels, more than the sidecar relays; the tool must return flatter data`, `line nesting deeper than ${MAX_SERVER_MESSAGE_DEPTH} levels`),
      },
      log,
    );
    this.exited = this.child.exited.then((info) => this.onExit(info));
  }

  /** Spawns the server and handshakes; resolves only once the server is READY (profile complete). */
  static async start(opts: WorkerOptions, hooks: WorkerHooks, log: Logger): Promise<Worker> {
    const worker = new Worker(opts, hooks, log);
    try {
      await worker.handshake();
    } catch (err) {
      // Never leave a half-started server behind: a failed handshake kills the process group.
      worker.kill(`handshake failed: ${(err as Error).message}`);
      await worker.exited;
      throw err;
    }
    worker.state = 'ready';
    worker.startPinging();
    if (worker.toolsChangedDuringHandshake) void worker.refreshTools();
    return worker;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** Sends a request for `call` under a fresh child-side id and returns that id. */
  dispatch(request: JsonRpcRequest, call: PendingCall): number | undefined {
    if (!this.child.running) return undefined;
    const id = this.nextId++;
    request.id = id;
    const meta = request.params?._meta;
    if (meta && meta.progressToken !== undefined) meta.progressToken = id; // tokens from sessions may collide
    // Serialized before the call is registered: if that throws, nothing is left in flight to answer later.
    const text = JSON.stringify(request);
    this.pending.set(id, call);
    if (!this.child.send(text)) {
      this.pending.delete(id);
      return undefined;
    }
    return id;
  }

  /** Forgets a call (timed out or cancelled by its client) and tells the server to stop working on it. */
  cancel(childId: number, reason: string): void {
    if (!this.pending.delete(childId)) return;
    this.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: childId, reason } });
  }

  send(message: JsonRpcMessage): boolean {
    return this.child.send(JSON.stringify(message));
  }

  /** A request of the sidecar's own (ping, list refresh); rejects on error, timeout or exit. */
  call(method: string, params: Record<string, unknown> | undefined, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const request: JsonRpcRequest = { jsonrpc: '2.0', id: 0, method };
      if (params) request.params = params;
      let id: number | undefined;
      const timer = setTimeout(() => {
        if (id !== undefined) this.cancel(id, `${method} timed out in mcp-sidecar`);
        reject(new Error(`${method} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      id = this.dispatch(request, {
        settle: (response) => {
          clearTimeout(timer);
          if (response.error) reject(new Error(`${method} failed: ${response.error.message} (code ${response.error.code})`));
          else resolve(response.result ?? {});
        },
        progress: () => {},
        fail: (error) => {
          clearTimeout(timer);
          reject(new Error(error.message));
        },
      });
      if (id === undefined) {
        clearTimeout(timer);
        reject(new Error(`${method} could not be sent: the MCP server process is not running`));
      }
    });
  }

  /** Ends this worker's process gracefully (close stdin → SIGTERM → SIGKILL). */
  async stop(timings: StopTimings): Promise<ExitInfo> {
    this.stopPinging();
    await this.child.stop(timings);
    return this.exited;
  }

  /** Kills the process group now, recording why (hung, failed handshake). */
  kill(reason: string): void {
    this.killReason ??= reason;
    this.stopPinging();
    this.child.kill();
  }

  private async handshake(): Promise<void> {
    // A command that could not be spawned (not found, not executable) reports why on its exit, a tick later.
    if (this.child.pid === undefined) throw new Error((await this.exited).reason);
    const timeout = this.opts.handshakeTimeoutMs;
    const deadline = Date.now() + timeout;
    const remaining = () => Math.max(1, deadline - Date.now());
    const params = this.opts.clientInitialize ?? {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: SIDECAR_CLIENT_CAPABILITIES,
      clientInfo: this.opts.clientInfo,
    };
    const init = await Promise.race([
      this.call('initialize', params, remaining()),
      this.exited.then((exit) => Promise.reject(new Error(`${exit.reason} during initialize`))),
    ]);
    if (typeof init.protocolVersion !== 'string' || typeof init.serverInfo !== 'object' || init.serverInfo === null) {
      throw new Error('initialize result lacks protocolVersion or serverInfo: is this an MCP server?');
    }
    this.initializeResult = init;
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const capabilities = (init.capabilities ?? {}) as Record<string, unknown>;
    const lists = await Promise.race([
      this.readLists(capabilities, remaining),
      this.exited.then((exit) => Promise.reject(new Error(`${exit.reason} during the handshake's list requests`))),
    ]);
    this.profile = {
      serverInfo: init.serverInfo as ServerProfile['serverInfo'],
      protocolVersion: init.protocolVersion,
      capabilities,
      instructions: typeof init.instructions === 'string' ? init.instructions : undefined,
      ...lists,
      toolsHash: toolsHash(lists.tools),
    };
  }

  private async readLists(capabilities: Record<string, unknown>, remaining: () => number) {
    const tools = capabilities.tools ? await this.listAll<Tool>('tools/list', 'tools', remaining) : [];
    const optional = async <T>(method: string, key: string, enabled: unknown): Promise<T[]> => {
      if (!enabled) return [];
      try {
        return await this.listAll<T>(method, key, remaining);
      } catch (err) {
        // Prompts and resources are informational for the mesh; a server that fails them still serves tools.
        this.log.warn({ err: (err as Error).message }, `${method} failed during the handshake; continuing without it`);
        return [];
      }
    };
    const prompts = await optional<Prompt>('prompts/list', 'prompts', capabilities.prompts);
    const resources = await optional<Resource>('resources/list', 'resources', capabilities.resources);
    const resourceTemplates = await optional<ResourceTemplate>('resources/templates/list', 'resourceTemplates', capabilities.resources);
    return { tools, prompts, resources, resourceTemplates };
  }

  /** Follows `nextCursor` to the end (bounded, so a server that loops its cursor cannot hang the handshake). */
  private async listAll<T>(method: string, key: string, remaining: () => number): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await this.call(method, cursor ? { cursor } : undefined, remaining());
      const list = result[key];
      if (!Array.isArray(list)) throw new Error(`${method} result has no "${key}" array`);
      items.push(...(list as T[]));
      cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
      if (!cursor) return items;
    }
    throw new Error(`${method} still returned a nextCursor after ${MAX_LIST_PAGES} pages`);
  }

  /** Re-reads the tool list after `notifications/tools/list_changed`. */
  private async refreshTools(): Promise<void> {
    // Some servers (server-everything among them) announce list_changed while still handshaking. There is no
    // profile to amend yet, and a partial one must never reach the registries: re-read once READY instead.
    if (this.state === 'handshaking') {
      this.toolsChangedDuringHandshake = true;
      return;
    }
    if (this.state === 'exited') return;
    try {
      const tools = await this.listAll<Tool>('tools/list', 'tools', () => this.opts.handshakeTimeoutMs);
      this.profile = { ...this.profile, tools, toolsHash: toolsHash(tools) };
      this.hooks.profileChanged(this, this.profile);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not re-read tools after tools/list_changed; keeping the old list');
    }
  }

  private startPinging(): void {
    this.pingTimer = setInterval(() => void this.ping(), this.opts.pingIntervalMs);
    this.pingTimer.unref();
  }

  private stopPinging(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private async ping(): Promise<void> {
    const started = performance.now();
    try {
      await this.call('ping', undefined, this.opts.pingTimeoutMs);
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      this.pingMisses = 0;
      this.lastPing = { at: Date.now(), latencyMs };
      if (this.state === 'unhealthy') this.state = 'ready';
      this.hooks.pingResult(this, { ok: true, latencyMs });
    } catch (err) {
      if (this.state === 'exited') return;
      this.pingMisses++;
      this.state = 'unhealthy';
      const reason = `MCP ping failed: ${(err as Error).message} (${this.pingMisses} of ${this.opts.pingMisses} allowed misses)`;
      this.hooks.pingResult(this, { ok: false, reason, misses: this.pingMisses });
      if (this.pingMisses >= this.opts.pingMisses) {
        this.kill(`MCP server stopped answering: ${this.pingMisses} pings in a row got no answer within ${this.opts.pingTimeoutMs} ms; killed it as hung`);
      }
    }
  }

  /** Whatever goes wrong relaying one message from stdout costs that message (logged), never the process. */
  private onMessage(value: unknown): void {
    try {
      this.route(value);
    } catch (err) {
      this.log.error({ err }, 'relaying a message from the MCP server failed inside the sidecar; dropped it');
      const id = (value as { id?: unknown }).id;
      const call = typeof id === 'number' && !('method' in (value as object)) ? this.pending.get(id) : undefined;
      if (call) {
        this.pending.delete(id as number);
        call.fail({ code: ErrorCode.InternalError, message: `mcp-sidecar could not relay the server's answer: ${(err as Error).message}` });
      }
    }
  }

  private route(value: unknown): void {
    const message = value as JsonRpcMessage;
    switch (kindOf(value)) {
      case 'response': {
        const response = message as JsonRpcResponse;
        const call = typeof response.id === 'number' ? this.pending.get(response.id) : undefined;
        if (!call) {
          this.log.debug({ id: response.id }, 'response for a call no longer in flight (timed out or cancelled)');
          return;
        }
        this.pending.delete(response.id as number);
        call.settle(response);
        return;
      }
      case 'notification': {
        const note = message as JsonRpcNotification;
        if (note.method === 'notifications/progress') {
          const token = note.params?.progressToken;
          const call = typeof token === 'number' ? this.pending.get(token) : undefined;
          if (call) call.progress(note);
          else this.log.debug({ token }, 'progress for a call no longer in flight');
          return;
        }
        if (note.method === 'notifications/tools/list_changed') void this.refreshTools();
        this.hooks.notification(this, note);
        return;
      }
      case 'request':
        this.hooks.serverRequest(this, message as JsonRpcRequest);
        return;
      default:
        this.hooks.garbageLine(this, JSON.stringify(value).slice(0, 512), 'JSON but not a valid JSON-RPC 2.0 message');
    }
  }

  /** A line the sidecar will not relay: the call it answers (found by its id) fails with why; else it is garbage. */
  private failUnrelayable(head: string, tail: string, message: string, garbageReason: string): void {
    const id = idFromHead(head) ?? idFromTail(tail);
    const call = id !== undefined ? this.pending.get(id) : undefined;
    this.log.warn({ id }, message);
    if (call && id !== undefined) {
      this.pending.delete(id);
      call.fail({ code: ErrorCode.ResponseTooLarge, message });
    } else {
      this.hooks.garbageLine(this, tail, garbageReason);
    }
  }

  private onExit(info: ExitInfo): ExitInfo {
    this.state = 'exited';
    this.stopPinging();
    const exit = this.killReason ? { ...info, reason: `${this.killReason} (${info.reason})` } : info;
    const error = { code: ErrorCode.ServerUnavailable, message: `${exit.reason} while this request was in flight; retry it once the server is back` };
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.fail(error);
    return exit;
  }
}
