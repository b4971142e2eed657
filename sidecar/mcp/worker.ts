/**
 * A worker is one MCP server process seen as a Channel: the JSON-RPC client side of its stdio. It owns the
 * child's id space and the table of calls in flight, fails every one of them the moment the process dies, and
 * hands what it does not consume itself (server requests, notifications) to `onmessage`. The handshake and the
 * pings are its own requests; the router decides what client calls mean; the supervisor decides when to start
 * another worker. Events: `garbage` (a stdout line that is no message, or one MCP does not allow: the server's
 * fault, never passed on), `ping` (each liveness result), `profile` (the tool list changed at run time).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { idFromHead, idFromTail } from '../child/line-framer.js';
import { keepBigIntegers, toJson } from './big-integers.js';
import { coalesced } from './coalesce.js';
import {
  StdioChild,
  type ChildEvents,
  type ChildSpec,
  type ExitInfo,
  type ServerProcess,
  type StopTimings,
} from '../child/stdio-child.js';
import type { Channel } from './channel.js';
import { progressProblem } from './envelope.js';
import { modernEnvelope, type EraMemory } from './era-probe.js';
import { handshake, rereadTools, SIDECAR_CLIENT_CAPABILITIES } from './handshake.js';
import { MAX_SERVER_MESSAGE_DEPTH, TOO_DEEP, tooLarge } from './json-depth.js';
import type { PendingCall } from './call.js';
import {
  ErrorCode,
  kindOf,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import { Liveness, type LivenessOptions, type PingResult } from './liveness.js';
import { ownRequest } from './own-request.js';
import type { ServerProfile } from './profile.js';
import type { ToolPolicy } from './tool-policy.js';

export interface WorkerOptions extends LivenessOptions {
  child: ChildSpec;
  handshakeTimeoutMs: number;
  clientInfo: { name: string; version: string };
  /** The client's own initialize params (isolated mode); otherwise the sidecar introduces itself. */
  clientInitialize?: Record<string, unknown>;
  /** The tools that exist for callers: the profile holds only those. */
  tools?: ToolPolicy;
  /** The server's era, learned by the first handshake and shared by every process of the server command. */
  era?: EraMemory;
  /** Starts the server process; default: `child` over stdio. (Unit tests start an in-memory server.) */
  start?: (events: ChildEvents) => ServerProcess;
}

export type WorkerState = 'handshaking' | 'ready' | 'unhealthy' | 'exited';

interface WorkerEvents {
  garbage: [line: string, reason: string];
  ping: [result: PingResult];
  profile: [profile: ServerProfile];
}

export class Worker extends EventEmitter<WorkerEvents> implements Channel {
  readonly exited: Promise<ExitInfo>;
  state: WorkerState = 'handshaking';
  profile!: ServerProfile;
  /** The server's initialize result when this worker was handshaken with a client's own initialize. */
  initializeResult?: Record<string, unknown>;
  lastPing?: { at: number; latencyMs: number };
  readonly startedAt = Date.now();
  onmessage?: (message: JsonRpcMessage) => void;
  onclose?: (reason: string) => void;

  private readonly child: ServerProcess;
  private readonly liveness: Liveness;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private killReason: string | undefined;
  /** The server said its tools changed before the handshake's profile was complete: re-read once READY. */
  private toolsChangedDuringHandshake = false;

  /** Spawns the server process; `ready()` then handshakes. Listeners attached before that see everything. */
  constructor(
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {
    super();
    this.liveness = new Liveness(this, opts);
    const events: ChildEvents = {
      message: (value, line) => this.onMessage(value, line),
      garbage: (line, reason) => this.emit('garbage', line, reason),
      oversized: (bytes, tail, head) =>
        this.failUnrelayable(
          head,
          tail,
          tooLarge(bytes, opts.child.maxMessageBytes),
          `line of ${bytes} bytes over --max-message`,
        ),
      tooDeep: (tail, head) =>
        this.failUnrelayable(head, tail, TOO_DEEP, `line nesting deeper than ${MAX_SERVER_MESSAGE_DEPTH} levels`),
    };
    this.child = opts.start ? opts.start(events) : new StdioChild(opts.child, events, log);
    this.exited = this.child.exited.then((info) => this.onExit(info));
  }

  /** Handshakes; resolves once the server is READY (profile complete), else kills the process and throws. */
  async ready(): Promise<this> {
    try {
      // A command that could not be spawned (not found, not executable) reports why on its exit, a tick later.
      if (this.child.pid === undefined) throw new Error((await this.exited).reason);
      const result = await Promise.race([
        // (clientInfo, clientInitialize, tools and era are the worker's options of the same names)
        handshake(this, { ...this.opts, timeoutMs: this.opts.handshakeTimeoutMs }, this.log),
        this.exited.then((exit) => Promise.reject(new Error(`${exit.reason} during the handshake`))),
      ]);
      this.profile = result.profile;
      this.initializeResult = result.initializeResult;
    } catch (err) {
      // Never leave a half-started server behind: a failed handshake kills the process group.
      this.kill(`handshake failed: ${(err as Error).message}`);
      await this.exited;
      throw err;
    }
    this.state = 'ready';
    this.liveness.start();
    if (this.toolsChangedDuringHandshake) void this.refreshTools();
    return this;
  }

  /** Params of the sidecar's own requests to a modern (2026-07-28) server: its `_meta`; undefined for legacy. */
  get ownParams(): Record<string, unknown> | undefined {
    if (this.profile?.era !== 'modern') return undefined;
    return { _meta: modernEnvelope(this.opts.clientInfo, SIDECAR_CLIENT_CAPABILITIES) };
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

  /** Channel: a message to the server as it is (answers to its requests: their ids as it sent them, toJson). */
  send(message: JsonRpcMessage): boolean {
    return this.child.send(toJson(message));
  }

  /** Channel: the process goes now. */
  close(reason: string): void {
    this.kill(reason);
  }

  /** A request of the sidecar's own (handshake, ping, list refresh); rejects on error, timeout or exit. */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    return ownRequest(this, method, params, timeoutMs);
  }

  /** Ends this worker's process gracefully (close stdin → SIGTERM → SIGKILL). */
  async stop(timings: StopTimings): Promise<ExitInfo> {
    this.liveness.stop();
    await this.child.stop(timings);
    return this.exited;
  }

  /** Kills the process group now, recording why (hung, failed handshake). */
  kill(reason: string): void {
    this.killReason ??= reason;
    this.liveness.stop();
    this.child.kill();
  }

  /** Re-reads the tool list after `notifications/tools/list_changed`, one re-read at a time (a flood costs two). */
  private refreshTools(): void {
    // Announced while handshaking (server-everything does): a partial profile must never reach the registries.
    if (this.state === 'handshaking') {
      this.toolsChangedDuringHandshake = true;
      return;
    }
    if (this.state !== 'exited') this.rereadOnce();
  }
  private readonly rereadOnce = coalesced(async () => {
    const { opts, profile: old, log } = this;
    const profile = await rereadTools(this, old, opts.handshakeTimeoutMs, log, opts.tools, this.ownParams);
    if (profile) this.emit('profile', (this.profile = profile));
  });

  /** Relays a message from stdout (its ids beyond 2^53 keep their digits); a failure costs it, never the process. */
  private onMessage(value: unknown, line: string): void {
    try {
      keepBigIntegers([value], line);
      this.route(value as JsonRpcMessage);
    } catch (err) {
      this.log.error({ err }, 'relaying a message from the MCP server failed inside the sidecar; dropped it');
      const id = (value as { id?: unknown }).id;
      const call = typeof id === 'number' && !('method' in (value as object)) ? this.pending.get(id) : undefined;
      if (call) {
        this.pending.delete(id as number);
        call.fail({
          code: ErrorCode.InternalError,
          message: `mcp-sidecar could not relay the server's answer: ${(err as Error).message}`,
        });
      }
    }
  }

  private route(message: JsonRpcMessage): void {
    switch (kindOf(message)) {
      case 'response': {
        const response = message as JsonRpcResponse;
        const call = typeof response.id === 'number' ? this.pending.get(response.id) : undefined;
        if (!call)
          return this.log.debug({ id: response.id }, 'response for a call no longer in flight (timed out, cancelled)');
        this.pending.delete(response.id as number);
        return call.answer(response);
      }
      case 'notification': {
        const note = message as JsonRpcNotification;
        if (note.method === 'notifications/progress') {
          const token = note.params?.progressToken;
          const call = typeof token === 'number' ? this.pending.get(token) : undefined;
          const problem = progressProblem(note.params);
          if (problem) this.emit('garbage', JSON.stringify(note).slice(0, 512), problem);
          else if (call) call.progress(note);
          else this.log.debug({ token }, 'progress for a call no longer in flight');
          return;
        }
        if (note.method === 'notifications/tools/list_changed') void this.refreshTools();
        return this.onmessage?.(note);
      }
      case 'request':
        return this.onmessage?.(message);
      default:
        this.emit('garbage', JSON.stringify(message).slice(0, 512), 'JSON but not a valid JSON-RPC 2.0 message');
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
      this.emit('garbage', tail, garbageReason);
    }
  }

  private onExit(info: ExitInfo): ExitInfo {
    this.state = 'exited';
    this.liveness.stop();
    const exit = this.killReason ? { ...info, reason: `${this.killReason} (${info.reason})` } : info;
    const error = {
      code: ErrorCode.ServerUnavailable,
      message: `${exit.reason} while this request was in flight; retry it once the server is back`,
    };
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.fail(error);
    this.onclose?.(exit.reason);
    return exit;
  }
}
