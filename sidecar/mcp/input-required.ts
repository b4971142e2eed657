/**
 * Multi Round-Trip Requests (MCP 2026-07-28) in front of a legacy stdio server. A legacy server asks for input
 * mid-call with a request of its own (elicitation/create, sampling/createMessage, roots/list); a modern client
 * cannot take requests, so the sidecar answers the client's call with an InputRequiredResult carrying the
 * server's request(s) and a signed requestState, and keeps the server's call waiting ("parked"). The client's
 * retry (same request plus inputResponses and the state) takes the call over: each response goes to the server as
 * the answer to its request, and the call goes on to its result, or to another round. A call nobody retries is
 * cancelled at the server after --input-wait.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { Call } from './call.js';
import type { Channel } from './channel.js';
import type { InFlight } from './in-flight.js';
import { ErrorCode, errorResponse, idKey, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import { modernContext } from './modern.js';
import { callerDigest, claimsProblem, paramsDigest, type RequestStateSeal } from './request-state.js';
import { PendingInput } from './pending-input.js';
import type { Worker } from './worker.js';

/** Requests of the revision that may answer with an InputRequiredResult. */
export const MRTR_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/**
 * How long requests that a server sends one after another (Promise.all over several asks) are gathered into one
 * InputRequiredResult. Short next to a human answering, long next to a process writing three lines.
 */
const GATHER_MS = 20;

/** A call that came with no inputResponses (never written to: only keys present are taken out). */
const NONE_OFFERED: Record<string, unknown> = Object.freeze({});

export interface InputRequiredOptions {
  inputWaitMs: number;
  maxPendingInput: number;
  stateKey?: Buffer;
}

/**
 * What a modern request's MRTR params come to: an error, a parked call taken over, or a fresh call with the
 * answers its client sent ahead (nearly always none).
 */
export type Taken = { error: JsonRpcResponse } | { resumed: Call } | { offered: Record<string, unknown> };

/** The common case, one constant: a fresh call that brought neither inputResponses nor requestState. */
const FRESH: Taken = Object.freeze({ offered: NONE_OFFERED });

function invalid(request: JsonRpcRequest, why: string, data?: unknown): Taken {
  return { error: errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: ${why}`, data) };
}

export class InputRequired {
  /** The instance named in requestState: the sidecar's service ID once it listens. */
  owner = `${hostname()}:${process.pid}`;
  private readonly parked = new Map<string, PendingInput>();

  constructor(
    private readonly inFlight: InFlight,
    readonly seal: RequestStateSeal,
    private readonly opts: InputRequiredOptions,
    private readonly log: Logger,
  ) {}

  /** Calls waiting for their client's inputResponses (a gauge in /metrics). */
  get size(): number {
    return this.parked.size;
  }

  /**
   * Reads (and removes: the legacy server knows neither) `inputResponses` and `requestState` of a modern
   * tools/call, prompts/get or resources/read. A verified state resumes its parked call; anything wrong with it is
   * an error and the parked call stays as it was.
   */
  take(request: JsonRpcRequest, client: Channel, identity: string | undefined): Taken {
    const params = request.params!;
    const { inputResponses: responses, requestState: state } = params;
    if (responses === undefined && state === undefined) return FRESH;
    if (responses !== undefined) delete params.inputResponses;
    if (state !== undefined) delete params.requestState;
    if (responses !== undefined) {
      if (typeof responses !== 'object' || responses === null || Array.isArray(responses))
        return invalid(request, 'inputResponses must be an object mapping each inputRequests key to its result');
      for (const [key, value] of Object.entries(responses))
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          return invalid(request, `inputResponses["${key}"] must be the result object of that input request`);
    }
    const offered = responses === undefined ? NONE_OFFERED : { ...(responses as Record<string, unknown>) };
    if (state === undefined) return { offered };
    if (typeof state !== 'string')
      return invalid(request, 'requestState must be the string of the InputRequiredResult');
    const claims = this.seal.open(state);
    if (!claims)
      return invalid(
        request,
        'requestState failed its integrity check (changed, or signed by a sidecar with another --state-key-file); send it back exactly as received',
      );
    const mismatch = claimsProblem(claims, request, this.owner, identity);
    if (mismatch) return invalid(request, mismatch.why, mismatch.data);
    const pending = this.parked.get(claims.handle);
    if (!pending)
      return invalid(
        request,
        'the call this requestState points at is no longer waiting (it went on with an earlier retry, was cancelled after --input-wait, or its server restarted); send the request again without requestState',
      );
    if (claims.round !== pending.round)
      return invalid(request, 'requestState of an earlier round: send the one of the latest InputRequiredResult');
    return { resumed: this.resume(pending, request, client, offered) };
  }

  /**
   * A fresh modern call of an MRTR method: ready to bridge what its server may ask. Its Multi Round-Trip state
   * is made when the server first asks (pendingOf): most calls never do, and a state object and a closure per
   * call, referring to each other and to the call, were promoted by the young-generation GC under load (old
   * space grew ~4 KB a call, with mark-compacts the legacy path never needed).
   */
  track(call: Call, request: JsonRpcRequest, offered: Record<string, unknown>, identity: string | undefined): void {
    call.inputRequest = request;
    call.inputIdentity = identity;
    // Answers sent ahead with a fresh call (rare) wait in the state for the server's requests.
    if (offered !== NONE_OFFERED) this.pendingOf(call)!.offered = offered;
  }

  /** The call's Multi Round-Trip state, made on first need; undefined for a call that cannot take input. */
  private pendingOf(call: Call): PendingInput | undefined {
    if (call.input instanceof PendingInput) return call.input;
    if (!call.inputRequest) return undefined;
    const pending = new PendingInput(call, call.inputRequest, call.inputIdentity, NONE_OFFERED);
    call.input = pending;
    call.onfinish = () => this.forget(pending);
    return pending;
  }

  /**
   * The server asked `call`'s client for input (the capability is declared: server-messages.ts checked). False
   * when the call's method cannot carry input requests in this revision.
   */
  ask(worker: Worker, call: Call, request: JsonRpcRequest): boolean {
    const pending = this.pendingOf(call);
    if (!pending) return false;
    const key = pending.keyFor(request);
    // Own keys only: a server may name its key `constructor` or `toString`, which every object seems to have.
    if (Object.hasOwn(pending.offered, key)) {
      // The client already sent this answer (with its first request, or a retry sent more than was asked).
      const result = pending.offered[key];
      delete pending.offered[key];
      worker.send({ jsonrpc: '2.0', id: request.id, result: result as Record<string, unknown> });
      return true;
    }
    pending.asks.set(key, { childId: request.id, method: request.method, params: request.params });
    pending.gather ??= setTimeout(() => {
      pending.gather = undefined;
      this.askClient(pending);
    }, GATHER_MS);
    return true;
  }

  /** The server withdrew one of its requests (notifications/cancelled): it is not asked for any more. */
  serverCancelled(worker: Worker, childId: unknown): void {
    for (const pending of this.parked.values()) {
      if (pending.call.worker !== worker) continue;
      for (const [key, ask] of pending.asks) if (ask.childId === childId) pending.asks.delete(key);
    }
  }

  /** Answers the call's client with an InputRequiredResult: what the server is waiting for, and a fresh state. */
  private askClient(pending: PendingInput): void {
    const call = pending.call;
    if (call.done || pending.asks.size === 0) return;
    if (!pending.parked) {
      if (this.parked.size >= this.opts.maxPendingInput) return this.refuse(pending);
      pending.parked = true;
      pending.handle ||= randomBytes(16).toString('base64url');
      this.parked.set(pending.handle, pending);
      this.inFlight.pause(call);
    }
    clearTimeout(pending.wait);
    pending.wait = setTimeout(() => this.expire(pending), this.opts.inputWaitMs);
    // fromEntries defines each key, where assigning `inputRequests["__proto__"]` would set the prototype instead.
    const inputRequests = Object.fromEntries(
      [...pending.asks].map(([key, ask]) => [key, { method: ask.method, params: ask.params ?? {} }]),
    );
    const requestState = this.seal.seal({
      owner: this.owner,
      handle: pending.handle,
      round: pending.round,
      method: pending.request.method,
      digest: paramsDigest(pending.request),
      expires: Date.now() + this.opts.inputWaitMs,
      caller: callerDigest(pending.identity),
    });
    const result = { resultType: 'input_required', inputRequests, requestState };
    call.client.send({ jsonrpc: '2.0', id: call.originalId, result }, call.key);
  }

  /** A retry with a verified state: it takes the call over and answers what it can of the server's requests. */
  private resume(pending: PendingInput, request: JsonRpcRequest, client: Channel, offered: Record<string, unknown>) {
    const call = pending.call;
    call.client = client;
    call.originalId = request.id;
    call.key = idKey(request.id);
    // The retry is a request of its own with its own _meta (2026-07-28): from here on the call's progress, log
    // lines and server requests are checked against what the retry declares, not what the first request did.
    call.progressToken = request.params?._meta?.progressToken;
    call.modern = modernContext(request);
    pending.round++;
    pending.offered = offered;
    if (pending.final) {
      // The server answered while the call waited: that answer is the retry's (its inputResponses had no taker).
      const final = pending.final;
      pending.final = undefined;
      this.unpark(pending);
      call.answer(final);
      return call;
    }
    for (const [key, ask] of pending.asks) {
      if (!Object.hasOwn(offered, key)) continue;
      call.worker.send({ jsonrpc: '2.0', id: ask.childId, result: offered[key] as Record<string, unknown> });
      delete offered[key];
      pending.asks.delete(key);
    }
    if (pending.asks.size > 0) {
      // Some answers are missing: the pattern asks again for exactly those, if the retry still declares their kind.
      const undeclared = pending.undeclared(call.modern.capabilities);
      if (undeclared) {
        this.unpark(pending);
        this.failAsks(pending, `the client's retry did not declare the "${undeclared.capability}" capability`);
        this.undeclared(call, undeclared.method, undeclared.capability);
      } else this.askClient(pending);
      return call;
    }
    this.unpark(pending);
    this.inFlight.refresh(call);
    return call;
  }

  /**
   * The revision's rule for a server request of a kind the waiting request did not declare: that request fails
   * with -32021 MissingRequiredClientCapability, and the call is stopped at the server.
   */
  undeclared(call: Call, method: string, capability: string): void {
    this.inFlight.cancel(call, `the client did not declare the "${capability}" capability`, 'error');
    const message = `Missing required client capability: the server asked for ${method}, which needs the "${capability}" capability; declare it in io.modelcontextprotocol/clientCapabilities`;
    const data = { requiredCapabilities: { [capability]: {} } };
    call.client.send(
      errorResponse(call.originalId, ErrorCode.MissingRequiredClientCapability, message, data),
      call.key,
    );
  }

  private unpark(pending: PendingInput): void {
    clearTimeout(pending.wait);
    pending.parked = false;
    this.parked.delete(pending.handle);
  }

  /** No retry within --input-wait: the server's requests fail, then its call is cancelled. */
  private expire(pending: PendingInput): void {
    const seconds = this.opts.inputWaitMs / 1000;
    this.log.info(
      { method: pending.request.method, asks: pending.asks.size },
      'MRTR call cancelled after --input-wait',
    );
    this.failAsks(pending, `the client did not retry with inputResponses within --input-wait (${seconds}s)`);
    this.inFlight.cancel(pending.call, `no retry with inputResponses within --input-wait (${seconds}s)`);
  }

  /** Past --max-pending-input: the client gets 503 and the server's call ends. */
  private refuse(pending: PendingInput): void {
    const call = pending.call;
    const why = `${this.parked.size} calls are waiting for their clients' input (--max-pending-input ${this.opts.maxPendingInput})`;
    this.failAsks(pending, `mcp-sidecar refused to hold the call: ${why}`);
    this.inFlight.cancel(call, why, 'error');
    call.client.send(this.inFlight.overloaded(call.originalId, 'input', `${why}; retry shortly`), call.key);
  }

  private failAsks(pending: PendingInput, message: string): void {
    for (const ask of pending.asks.values())
      pending.call.worker.send(errorResponse(ask.childId, ErrorCode.NoClientForRequest, `mcp-sidecar: ${message}`));
    pending.asks.clear();
  }

  /** The call stopped being in flight, however: nothing of it is kept. */
  private forget(pending: PendingInput): void {
    clearTimeout(pending.gather);
    clearTimeout(pending.wait);
    this.parked.delete(pending.handle);
  }
}
