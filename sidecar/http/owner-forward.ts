/**
 * Replicas and Multi Round-Trip Requests: a call waiting for its client's input lives in the one sidecar process
 * that parked it (the owner, named in the signed requestState), but a gateway balancing stateless requests may
 * send the retry to any replica. A replica that is not the owner passes the retry on to the owner, unchanged, and
 * streams the owner's answer back, so the client never knows. The rules that keep this safe:
 *
 * - the state is verified first (HMAC with the shared --state-key-file) and checked as the owner would (expiry,
 *   request digest, caller): a tampered or foreign state is answered here and forwarded nowhere;
 * - the address comes from Consul only: the owner's service ID must be a passing instance of this service name;
 * - a forwarded request carries FORWARDED_BY and is never forwarded again (no loops, even when an address in
 *   Consul now belongs to another instance).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import type { Logger } from '../log.js';
import { MRTR_METHODS } from '../mcp/input-required.js';
import { toJson } from '../mcp/big-integers.js';
import { ErrorCode, errorResponse, type JsonRpcRequest } from '../mcp/jsonrpc.js';
import { claimsProblem, waitingAt, type RequestStateSeal, type StateClaims } from '../mcp/request-state.js';
import type { ConsulInstances } from '../mesh/consul-instances.js';
import { sendJsonText } from './reply.js';

/** Marks a request one replica forwarded to another (its value: the forwarding instance's service ID). */
export const FORWARDED_BY = 'mcp-sidecar-forwarded-by';

/** What became of a retry whose call waits at another replica (mcp_sidecar_mrtr_forwards_total). */
export type ForwardOutcome =
  'forwarded' | 'not_again' | 'no_consul' | 'consul_unreachable' | 'owner_gone' | 'owner_unreachable';

/**
 * Request headers the owner needs to serve the retry as if it had come to it: the transport's own, the caller's
 * credentials (the owner authenticates the caller again, and the state is bound to the same identity: the JWT's
 * subject, Kong's consumer, or the Authorization header), and trace context. Host, Origin, cookies and the
 * connection's own headers are not passed on.
 */
const PASSED_ON = new Set([
  'content-type',
  'accept',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'authorization',
  'x-consumer-id',
  'x-consumer-custom-id',
  'x-consumer-username',
  'x-credential-identifier',
  'traceparent',
  'tracestate',
  'baggage',
]);

/** Answer headers the client needs; the body's framing (JSON or SSE) is the owner's. */
const PASSED_BACK = ['content-type', 'content-length', 'cache-control', 'retry-after', 'www-authenticate'];

/** Answers the retry with a JSON-RPC error (data: the owner, unless told otherwise). */
type Fail = (why: string, code?: number, status?: number, data?: unknown) => void;

export interface OwnerForwardOptions {
  seal: RequestStateSeal;
  /** This instance's service ID: the owner named in the states it issues. */
  self(): string;
  /** Consul's passing instances of this service; undefined without --consul. */
  instances: ConsulInstances | undefined;
  /** The service name (for messages). */
  service: string;
  /** --forward-timeout: connecting to the owner, and the Consul lookup. */
  connectTimeoutMs: number;
  /** --request-timeout: the owner answers (or times the call out) within it. */
  requestTimeoutMs: number;
  count(outcome: ForwardOutcome): void;
  /** Who is calling (the identity the state is bound to), as the owner will compute it. */
  identity(req: IncomingMessage): string | undefined;
  log: Logger;
}

export class OwnerForward {
  private readonly agent: Agent;

  constructor(private readonly opts: OwnerForwardOptions) {
    this.agent = new Agent({
      connect: { timeout: opts.connectTimeoutMs },
      // The owner bounds the call itself (--request-timeout, reset by progress; keep-alive comments on SSE).
      headersTimeout: opts.requestTimeoutMs + opts.connectTimeoutMs,
      bodyTimeout: opts.requestTimeoutMs + opts.connectTimeoutMs,
    });
  }

  /**
   * Serves `message` when it is the retry of a call waiting at another replica (forwarded, or answered with why
   * it cannot be); undefined when this instance serves it itself (no state, its own state, or a state that fails
   * its integrity check: the local path answers that one, as for any bad state).
   */
  take(req: IncomingMessage, res: ServerResponse, message: JsonRpcRequest, body: string): Promise<void> | undefined {
    const state = message.params?.requestState;
    if (typeof state !== 'string' || !MRTR_METHODS.has(message.method)) return undefined;
    const claims = this.opts.seal.open(state);
    const self = this.opts.self();
    if (!claims || claims.owner === self) return undefined;
    const fail: Fail = (why, code = ErrorCode.InvalidParams, status = 200, data = { owner: claims.owner }) => {
      const headers: Record<string, string> = status === 503 ? { 'retry-after': '1' } : {};
      sendJsonText(res, status, toJson(errorResponse(message.id, code, why, data)), headers);
    };
    const forwardedBy = req.headers[FORWARDED_BY];
    if (forwardedBy !== undefined) {
      this.opts.count('not_again');
      fail(
        `Invalid params: ${waitingAt(claims.owner)}, not at this one ("${self}"), and this request was already forwarded once (by "${String(forwardedBy)}"): a forwarded request is not forwarded again`,
      );
      return Promise.resolve();
    }
    // Everything the owner would check but the owner itself: a bad retry is answered here, not carried over.
    const problem = claimsProblem(claims, message, claims.owner, this.opts.identity(req));
    if (problem) {
      fail(`Invalid params: ${problem.why}`, ErrorCode.InvalidParams, 200, problem.data);
      return Promise.resolve();
    }
    return this.forward(req, res, claims, body, fail);
  }

  close(): void {
    this.opts.instances?.close();
    void this.agent.close().catch(() => undefined);
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    claims: StateClaims,
    body: string,
    fail: Fail,
  ): Promise<void> {
    const { instances, service } = this.opts;
    const lost = `the call waiting for this input is lost: send the request again without requestState (and without inputResponses) to start it over`;
    if (!instances) {
      this.opts.count('no_consul');
      return fail(
        `Invalid params: ${waitingAt(claims.owner)}, and this instance cannot reach it: replicas find each other through Consul and this one has no --consul; ${lost}`,
      );
    }
    let owner;
    try {
      owner = await instances.passing(claims.owner);
    } catch (err) {
      this.opts.count('consul_unreachable');
      this.opts.log.warn({ err: (err as Error).message, owner: claims.owner }, 'MRTR retry: Consul did not answer');
      return fail(
        `${waitingAt(claims.owner)}, and Consul could not be asked where it is (${(err as Error).message}); retry shortly`,
        ErrorCode.ServerUnavailable,
        503,
      );
    }
    if (!owner) {
      this.opts.count('owner_gone');
      return fail(
        `Invalid params: ${waitingAt(claims.owner)}, which Consul does not list as a passing instance of service "${service}" (it stopped, restarted or failed its checks); ${lost}`,
      );
    }
    const host = owner.address.includes(':') ? `[${owner.address}]` : owner.address;
    const url = `http://${host}:${owner.port}/mcp`;
    const headers: Record<string, string> = { [FORWARDED_BY]: this.opts.self() };
    for (const [name, value] of Object.entries(req.headers))
      if (typeof value === 'string' && (PASSED_ON.has(name) || name.startsWith('mcp-param-'))) headers[name] = value;
    const abort = new AbortController();
    // The client going away is cancellation in this revision: the owner must see its connection close too.
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);
    let answer;
    try {
      answer = await request(url, { method: 'POST', headers, body, signal: abort.signal, dispatcher: this.agent });
    } catch (err) {
      res.off('close', onClose);
      if (abort.signal.aborted) return;
      this.opts.count('owner_unreachable');
      const why = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`.trim();
      this.opts.log.warn({ owner: claims.owner, url, err: why }, 'MRTR retry: the owner did not answer');
      return fail(
        `Invalid params: ${waitingAt(claims.owner)} (${owner.address}:${owner.port}), which did not answer (${why}); ${lost}`,
      );
    }
    this.opts.count('forwarded');
    const back: Record<string, string> = {};
    for (const name of PASSED_BACK) {
      const value = answer.headers[name];
      if (typeof value === 'string') back[name] = value;
    }
    res.writeHead(answer.statusCode, back);
    // SSE (progress, then the result) must reach the client as it comes: headers now, each chunk as it arrives.
    res.flushHeaders();
    try {
      await pipeline(answer.body, res);
    } catch (err) {
      // The client left (the owner sees the close) or the owner's stream broke: nothing more can be said on it.
      if (!abort.signal.aborted)
        this.opts.log.warn({ owner: claims.owner, err: (err as Error).message }, 'MRTR retry: forwarded answer cut');
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
  }
}
