/**
 * Legacy clients (sessions, `initialize`) of a modern (2026-07-28 only) stdio server. The session was answered
 * `initialize` from the server's discover result (the pools' cached profile); from then on every request of the
 * session is translated here, so the server sees a modern client and the client sees a legacy server:
 * - each forwarded request gets the revision's `_meta`: protocol version 2026-07-28, the session's client
 *   capabilities and client info (from its initialize) and its log level;
 * - `ping` is answered by the sidecar (a modern server has none); `logging/setLevel` becomes the session's
 *   per-request log level; `resources/subscribe`/`unsubscribe` become the URIs of the sidecar's own
 *   `subscriptions/listen` at the server (server-listen.ts), whose updates reach the subscribed sessions;
 * - results lose what only the revision has (`resultType`, `ttlMs`, `cacheScope`, the server identity in
 *   `_meta`), which a legacy client has no use for;
 * - an `InputRequiredResult` is resolved by the sidecar: each of its `inputRequests` goes to the client as the
 *   legacy request it is (`elicitation/create`, `sampling/createMessage`, `roots/list`) on the session, on the
 *   stream of the client's request, and the request is sent again with the answers (`inputResponses`) and the
 *   server's `requestState`, round after round (at most MAX_ROUNDS), so the client sees one ordinary call.
 * Sessions over legacy servers never come here (the router picks the handler per session): their path is
 * untouched.
 */
import type { Channel } from './channel.js';
import type { ClientMessages } from './client-messages.js';
import { modernEnvelope } from './era-probe.js';
import { paramsProblem } from './envelope.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  kindOf,
  own,
  resultResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import { META } from './modern.js';
import type { ServerMessages } from './server-messages.js';
import { LOG_LEVELS, type LogLevel, type Session } from './session.js';
import { sessionSubscribeProblem } from './session-state.js';

/** Rounds of input one call may take before the sidecar gives up on it (a server that never completes). */
export const MAX_ROUNDS = 8;

/** The capability a legacy client declares for each kind of input request. */
const CAPABILITY: Record<string, string> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/**
 * The level a session's requests ask for before it set one: everything, as a legacy server sends every log line
 * until a client calls logging/setLevel.
 */
const DEFAULT_LOG_LEVEL: LogLevel = 'debug';

const CANCELLED = 'cancelled by the client';
const stopKey = (session: Session, key: string | number) => `${session.id}\0${String(key)}`;

export class LegacyOverModern {
  /** Calls whose client is being asked for input, by session and request key: what stops the round. */
  private readonly resolving = new Map<string, (why: string) => void>();

  constructor(
    private readonly clientMessages: ClientMessages,
    private readonly serverMessages: ServerMessages,
    /** The session's watched resources changed: the server's listen follows (router). */
    private readonly rewatch: (session: Session) => void,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Everything a legacy session of a modern server sends (the session's client channel `onmessage`). */
  fromClient(session: Session, message: JsonRpcMessage): void {
    const kind = kindOf(message);
    if (kind === 'notification' && (message as JsonRpcNotification).method === 'notifications/cancelled') {
      const requestId = (message as JsonRpcNotification).params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number')
        this.resolving.get(stopKey(session, idKey(requestId)))?.(CANCELLED);
    }
    if (kind !== 'request') return this.clientMessages.fromClient(session, message);
    session.lastActivity = Date.now();
    const request = message as JsonRpcRequest;
    const problem = paramsProblem(request);
    if (problem)
      return this.clientMessages.refuse(session, request, ErrorCode.InvalidParams, `Invalid params: ${problem}`);
    switch (request.method) {
      case 'initialize':
        return this.clientMessages.fromClient(session, request); // refused there: the session is initialized
      case 'ping':
        return this.clientMessages.answer(session, request, resultResponse(request.id, {}));
      case 'logging/setLevel': {
        const level = request.params?.level;
        if (!LOG_LEVELS.includes(level as LogLevel))
          return this.clientMessages.refuse(
            session,
            request,
            ErrorCode.InvalidParams,
            `invalid log level ${JSON.stringify(level)}; one of ${LOG_LEVELS.join(', ')}`,
          );
        session.logLevel = level as LogLevel;
        return this.clientMessages.answer(session, request, resultResponse(request.id, {}));
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = request.params!.uri as string;
        const limit = request.method === 'resources/subscribe' ? sessionSubscribeProblem(session, uri) : undefined;
        if (limit)
          return this.clientMessages.refuse(session, request, ErrorCode.InvalidParams, `Invalid params: ${limit}`);
        if (request.method === 'resources/subscribe') session.subscriptions.add(uri);
        else session.subscriptions.delete(uri);
        this.rewatch(session);
        return this.clientMessages.answer(session, request, resultResponse(request.id, {}));
      }
      default:
        return this.forward(session, request, undefined, 0);
    }
  }

  /**
   * The client's request (`original`, never changed: a retry starts from it again) with the session's modern
   * `_meta` and, on a retry, the answers (`retry`), to the server; its answer comes back through `answered`.
   */
  private forward(
    session: Session,
    original: JsonRpcRequest,
    retry: Record<string, unknown> | undefined,
    round: number,
  ): void {
    const meta = modernEnvelope(session.clientInfo, session.clientCapabilities, session.logLevel ?? DEFAULT_LOG_LEVEL);
    const params = { ...original.params, ...retry, _meta: { ...original.params?._meta, ...meta } };
    const key = idKey(original.id);
    const client: Channel = {
      send: (message, related) => {
        if (kindOf(message) === 'response') this.answered(session, original, message as JsonRpcResponse, key, round);
        else session.client.send(message, related);
      },
      close: () => {},
    };
    this.clientMessages.forward(session, { ...original, params: params as JsonRpcRequest['params'] }, client);
  }

  private answered(
    session: Session,
    request: JsonRpcRequest,
    response: JsonRpcResponse,
    key: string | number,
    round: number,
  ): void {
    const result = response.result;
    if (result?.resultType === 'input_required') {
      void this.resolve(session, request, result, key, round);
      return;
    }
    if (result) legacyResult(result);
    session.client.send(response, key);
  }

  /** Asks the client what the server asked for, then sends the request again with the answers. */
  private async resolve(
    session: Session,
    request: JsonRpcRequest,
    result: Record<string, unknown>,
    key: string | number,
    round: number,
  ): Promise<void> {
    const fail = (code: number, message: string, data?: unknown) =>
      session.client.send(errorResponse(request.id, code, message, data), key);
    if (round + 1 >= MAX_ROUNDS)
      return fail(
        ErrorCode.InternalError,
        `the MCP server still asked for input after ${MAX_ROUNDS} rounds of ${request.method}; mcp-sidecar gave up on it`,
      );
    const asks = Object.entries((result.inputRequests ?? {}) as Record<string, { method?: unknown; params?: unknown }>);
    for (const [, ask] of asks) {
      const capability = own(CAPABILITY, String(ask.method));
      if (!capability || !session.clientCapabilities[capability])
        return fail(
          ErrorCode.MissingRequiredClientCapability,
          `the MCP server asked for ${String(ask.method)}, which this client did not declare (capability "${capability ?? 'unknown'}")`,
          { requiredCapabilities: capability ? { [capability]: {} } : {} },
        );
    }
    const sent = asks.map(([, ask]) => this.serverMessages.ask(session, key, String(ask.method), ask.params));
    // No call is in flight while the client is asked, so what --request-timeout and a client's cancellation do
    // to a call happens here: either ends the round, withdraws the asks, and the call is not sent again.
    const stop = new Promise<string>((resolve) => {
      const timer = setTimeout(
        () => resolve(`timed out after ${this.requestTimeoutMs / 1000}s waiting for the client's input`),
        this.requestTimeoutMs,
      );
      this.resolving.set(stopKey(session, key), (why) => (clearTimeout(timer), resolve(why)));
    });
    const outcome = await Promise.race([Promise.all(sent.map((s) => s.answer)), stop]);
    this.resolving.get(stopKey(session, key))?.('answered');
    this.resolving.delete(stopKey(session, key));
    if (typeof outcome === 'string') {
      for (const { id } of sent) this.serverMessages.withdraw(id, key, outcome);
      if (outcome === CANCELLED) return session.client.abandon(key);
      return fail(ErrorCode.RequestTimeout, `mcp-sidecar: ${request.method} ${outcome} (--request-timeout)`);
    }
    const answers = outcome;
    const refused = answers.find((a) => a.error);
    if (refused?.error) return fail(refused.error.code, refused.error.message, refused.error.data);
    // fromEntries defines each key (assigning one named `__proto__` would set the prototype instead).
    const inputResponses = Object.fromEntries(asks.map(([name], i) => [name, answers[i].result ?? {}]));
    const retry: Record<string, unknown> = { inputResponses };
    if (typeof result.requestState === 'string') retry.requestState = result.requestState;
    this.forward(session, request, retry, round + 1);
  }
}

/** What only the 2026-07-28 revision has leaves the result a legacy client gets. */
function legacyResult(result: Record<string, unknown>): void {
  delete result.resultType;
  delete result.ttlMs;
  delete result.cacheScope;
  const meta = result._meta as Record<string, unknown> | undefined;
  if (meta && META.serverInfo in meta) {
    delete meta[META.serverInfo];
    if (Object.keys(meta).length === 0) delete result._meta;
  }
}
