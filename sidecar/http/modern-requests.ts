/**
 * POST /mcp for modern (2026-07-28) requests, beside the legacy sessions on the same endpoint: a request whose
 * `_meta` declares its protocol version is served statelessly, as the revision's dual-era server does. Checked in
 * the order the transport page gives: version, method, headers against the body; then answered by the sidecar
 * (`server/discover`, `subscriptions/listen`) or forwarded to the server as one stateless call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { paramsProblem } from '../mcp/envelope.js';
import { toJson } from '../mcp/big-integers.js';
import { ErrorCode, errorResponse, kindOf, type JsonRpcRequest, type JsonRpcResponse } from '../mcp/jsonrpc.js';
import {
  ALL_VERSIONS,
  declaredVersion,
  discoverResult,
  FORWARDED_METHODS,
  isModernVersion,
  META,
  MODERN_VERSIONS,
} from '../mcp/modern.js';
import type { ServerProfile } from '../mcp/profile.js';
import type { Router } from '../mcp/router.js';
import type { Subscription } from '../mcp/subscriptions.js';
import { callerIdentity } from './caller-identity.js';
import { ListenStream } from './listen-stream.js';
import { headerMismatch } from './modern-headers.js';
import type { OwnerForward } from './owner-forward.js';
import { sendJsonText } from './reply.js';
import { StatelessExchange } from './stateless-exchange.js';
import type { StreamableHttp } from './streamable-http.js';

export class ModernRequests {
  constructor(
    private readonly router: Router,
    private readonly transport: StreamableHttp,
    private readonly opts: { listTtlMs: number; ownerForward?: OwnerForward },
  ) {}

  /**
   * Serves one modern request. Synchronous when a server is up (the hot path: no promise, no closure per
   * request); a promise only while it waits for a restarting server's profile or forwards a retry.
   * `body`: the request as it came, passed on unchanged when its call waits at another replica.
   */
  handle(req: IncomingMessage, res: ServerResponse, message: JsonRpcRequest, body: string): void | Promise<void> {
    if (kindOf(message) !== 'request') {
      // This revision defines no client notifications over HTTP (closing a stream is cancellation) and clients
      // send no responses: accepted and dropped, as the transport page allows.
      res.writeHead(202);
      res.end();
      return;
    }
    const id = message.id;
    const meta = message.params?._meta;
    const version = declaredVersion(message);
    if (
      typeof version !== 'string' ||
      typeof meta?.[META.clientCapabilities] !== 'object' ||
      meta[META.clientCapabilities] === null
    ) {
      return reply(
        res,
        400,
        errorResponse(
          id,
          ErrorCode.InvalidParams,
          `Invalid params: a ${MODERN_VERSIONS[0]} request carries _meta with "${META.protocolVersion}" and "${META.clientCapabilities}"`,
        ),
      );
    }
    const header = req.headers['mcp-protocol-version'];
    if (header !== version) {
      const why =
        header === undefined
          ? 'the MCP-Protocol-Version header is required'
          : `MCP-Protocol-Version header "${header}" does not match _meta "${version}"`;
      return reply(res, 400, errorResponse(id, ErrorCode.HeaderMismatch, `Header mismatch: ${why}`));
    }
    if (!isModernVersion(version)) {
      return reply(
        res,
        400,
        errorResponse(
          id,
          ErrorCode.UnsupportedProtocolVersion,
          `Unsupported protocol version ${JSON.stringify(version)}`,
          { supported: ALL_VERSIONS, requested: version },
        ),
      );
    }
    const method = message.method;
    if (method !== 'server/discover' && method !== 'subscriptions/listen' && !FORWARDED_METHODS.has(method)) {
      return reply(
        res,
        404,
        errorResponse(id, ErrorCode.MethodNotFound, `Method not found: ${method} is not a method of MCP ${version}`),
      );
    }
    // Before the server's profile: a retry whose call waits at another replica needs nothing of this one's server.
    const forwarded = this.opts.ownerForward?.take(req, res, message, body);
    if (forwarded) return forwarded;
    const profile = this.router.stateless.currentProfile();
    if (profile) return this.serve(req, res, message, profile);
    return this.router.stateless.profile().then((waited) => {
      if (waited) return this.serve(req, res, message, waited);
      reply(res, 503, this.router.stateless.unavailable(id), RETRY_AFTER);
    });
  }

  /** A valid modern request, with the profile of a server that is up. */
  private serve(
    req: IncomingMessage,
    res: ServerResponse,
    message: JsonRpcRequest,
    profile: ServerProfile,
  ): void | Promise<void> {
    const { id, method } = message;
    const mismatch = headerMismatch(req, message, profile);
    if (mismatch) return reply(res, 400, errorResponse(id, ErrorCode.HeaderMismatch, `Header mismatch: ${mismatch}`));
    const problem = paramsProblem(message);
    if (problem) return reply(res, 200, errorResponse(id, ErrorCode.InvalidParams, `Invalid params: ${problem}`));

    if (method === 'server/discover') return reply(res, 200, { jsonrpc: '2.0', id, result: discoverResult(profile) });
    if (method === 'subscriptions/listen') return this.listen(res, message);
    const stateless = this.router.stateless;
    const exchange = new StatelessExchange(res, this.transport, stateless, message, profile, this.opts.listTtlMs);
    exchange.call = stateless.call(message, exchange, 'modern', callerIdentity(req));
  }

  /** A promise while the server answers the subscribes the listen needs (a failure is answered as ours, a 500). */
  private listen(res: ServerResponse, request: JsonRpcRequest): void | Promise<void> {
    // The client may have gone while the request waited for a server to be ready: a stream nobody reads would
    // never close, and its subscriptions never be released.
    if (res.destroyed) return;
    const stream = new ListenStream(res, this.transport, request.id);
    const subscription = this.router.stateless.listen(request, stream);
    if (subscription instanceof Promise) {
      // The server is answering subscribes for it: the stream opens with what the server took.
      return subscription.then((answered) => this.open(res, stream, answered));
    }
    if (!('filter' in subscription))
      return reply(res, subscription.error?.code === ErrorCode.InvalidParams ? 200 : 503, subscription);
    this.open(res, stream, subscription);
  }

  private open(res: ServerResponse, stream: ListenStream, subscription: Subscription): void {
    const unlisten = () => this.router.stateless.unlisten(subscription);
    // A client that left while the server answered: nobody would ever close its stream.
    if (res.destroyed) return unlisten();
    stream.open(subscription.filter, unlisten);
  }
}

const RETRY_AFTER: readonly string[] = ['retry-after', '1'];

function reply(res: ServerResponse, status: number, response: JsonRpcResponse, headers?: readonly string[]): void {
  sendJsonText(res, status, toJson(response), headers);
}
