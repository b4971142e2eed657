/**
 * The HTTP sessions of the legacy era: opened by `initialize` (the id goes out in Mcp-Session-Id), found by that
 * header on every later request, and adopted when another instance of the service opened them (shared mode).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson } from '../mcp/big-integers.js';
import { ErrorCode, errorResponse, type JsonRpcRequest } from '../mcp/jsonrpc.js';
import { initializeProblem } from '../mcp/envelope.js';
import { NotReadyError } from '../mcp/pool.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../mcp/protocol-versions.js';
import type { Router } from '../mcp/router.js';
import type { EventStoreLimits } from './event-store.js';
import { callerIdentity } from './caller-identity.js';
import { HttpSession } from './http-session.js';
import { sendJsonText, sendRpcError, sendTransportError } from './reply.js';
import type { StreamableHttp } from './streamable-http.js';

export class HttpSessions {
  private readonly byId = new Map<string, HttpSession>();
  private readonly adopting = new Map<string, Promise<HttpSession>>();

  constructor(
    private readonly router: Router,
    private readonly transport: StreamableHttp,
    private readonly eventStore: EventStoreLimits,
  ) {}

  delete(id: string): void {
    this.byId.delete(id);
  }

  /** `initialize`: a new session, its id in the answer's header; 503 with Retry-After when no server is up. */
  async open(request: JsonRpcRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const problem = initializeProblem(request.params);
    if (problem)
      return sendJsonText(
        res,
        200,
        toJson(errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: ${problem}`)),
      );
    const http = new HttpSession(this.transport, this.eventStore);
    http.owner = callerIdentity(req);
    try {
      const { session, response } = await this.router.openSession(request, http);
      http.session = session;
      this.byId.set(session.id, http);
      sendJsonText(res, 200, toJson(response), { 'mcp-session-id': session.id });
    } catch (err) {
      if (!(err instanceof NotReadyError)) throw err;
      sendJsonText(res, 503, toJson(errorResponse(request.id, ErrorCode.ServerUnavailable, err.message)), {
        'retry-after': String(err.retryAfterSeconds),
      });
    }
  }

  /**
   * The session a request names (or adopts), or undefined when the client was answered with why not. At once for a
   * session of this instance (the hot path: no promise); a promise while one opened elsewhere is being adopted.
   */
  find(req: IncomingMessage, res: ServerResponse): HttpSession | undefined | Promise<HttpSession | undefined> {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || id === '') {
      sendTransportError(res, 400, 'Bad Request: Mcp-Session-Id header is required (send initialize first to get one)');
      return undefined;
    }
    // Node joins repeated headers into "a, b": two session ids must not become a third, new one. (Session ids
    // never hold a comma, so the joined form is found without building every header's list per request.)
    if (id.includes(',')) {
      sendTransportError(res, 400, 'Bad Request: more than one Mcp-Session-Id header; send exactly one');
      return undefined;
    }
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
      sendTransportError(
        res,
        400,
        `Bad Request: unsupported MCP-Protocol-Version "${version}" (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
      return undefined;
    }
    const http = this.byId.get(id);
    if (http) return this.found(http, req, res);
    if (this.router.sessions.canAdopt(id))
      return this.adopt(id, version ?? '2025-03-26', req, res).then((adopted) => this.found(adopted, req, res));
    return this.found(undefined, req, res);
  }

  private found(http: HttpSession | undefined, req: IncomingMessage, res: ServerResponse): HttpSession | undefined {
    // Another caller's session answers as one that does not exist: its id alone must not let anyone use it, or
    // learn that it is there.
    if (http && http.owner !== callerIdentity(req)) {
      this.transport.log.warn(
        { session: http.session.id.slice(0, 12) },
        'a request named a session another caller opened; answered as unknown (404)',
      );
      http = undefined;
    }
    if (!http) {
      sendRpcError(
        res,
        404,
        ErrorCode.SessionNotFound,
        'Session not found: it expired or was closed; initialize a new session',
      );
      return undefined;
    }
    http.session.lastActivity = Date.now();
    return http;
  }

  /** A session another instance opened (see Router.adoptSession); concurrent first requests share one adoption. */
  private adopt(
    id: string,
    protocolVersion: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<HttpSession | undefined> {
    let pending = this.adopting.get(id);
    if (!pending) {
      const http = new HttpSession(this.transport, this.eventStore);
      // The instance that opened it knew its caller; this one can only take the first to come back with it.
      http.owner = callerIdentity(req);
      pending = this.router.adoptSession(id, protocolVersion, http).then((session) => {
        http.session = session;
        this.byId.set(id, http);
        return http;
      });
      pending.finally(() => this.adopting.delete(id)).catch(() => {});
      this.adopting.set(id, pending);
    }
    return pending.catch((err: Error) => {
      if (!(err instanceof NotReadyError)) throw err;
      sendRpcError(res, 503, ErrorCode.ServerUnavailable, err.message, {
        'retry-after': String(err.retryAfterSeconds),
      });
      return undefined;
    });
  }
}
