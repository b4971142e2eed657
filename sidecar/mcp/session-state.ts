/**
 * What a shared server process cannot keep apart per session, kept by the sidecar: each session's log level (the
 * server gets the most verbose one asked for, each session is filtered to its own) and resource subscriptions (the
 * server holds one per URI for everyone).
 */
import { ErrorCode, errorResponse, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import { LOG_LEVELS, type LogLevel, type Session } from './session.js';
import { subscribeProblem, type Subscriptions } from './subscriptions.js';
import type { Worker } from './worker.js';

/**
 * logging/setLevel from one session: records its level and rewrites the request to the level the server needs
 * (the most verbose of the sessions on that process). Returns the error for the client when the level is invalid.
 */
export function applyLogLevel(
  session: Session,
  request: JsonRpcRequest,
  sessions: ReadonlyMap<string, Session>,
): JsonRpcResponse | undefined {
  const level = request.params?.level;
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    return errorResponse(
      request.id,
      ErrorCode.InvalidParams,
      `invalid log level ${JSON.stringify(level)}; one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  session.logLevel = level as LogLevel;
  request.params = { ...request.params, level: levelAt(sessions, session.worker) };
  return undefined;
}

/** The level a server process must send at for its sessions: the most verbose any of them asked for. */
export function levelAt(sessions: ReadonlyMap<string, Session>, worker: Worker): LogLevel {
  let min = LOG_LEVELS.length - 1;
  for (const s of sessions.values())
    if (s.logLevel && s.worker === worker) min = Math.min(min, LOG_LEVELS.indexOf(s.logLevel));
  return LOG_LEVELS[min];
}

/**
 * resources/subscribe or unsubscribe from one session: says whether the request must reach the server, and records
 * what it can now. A subscribe reaches it unless another client's subscription there is confirmed (one still in
 * flight may yet be refused); it is then recorded when the server accepts it (ClientMessages), so that a refused
 * one leaves nobody believing the server watches the URI. An unsubscribe is recorded at once (an answer to this
 * session's subscribe still in flight then records nothing) and reaches the server unless another client holds
 * the URI or is taking it.
 */
export function bookSubscription(
  session: Session,
  request: JsonRpcRequest,
  sessions: ReadonlyMap<string, Session>,
  listeners: Subscriptions,
): boolean {
  const uri = request.params!.uri as string;
  if (request.method === 'resources/unsubscribe') {
    session.subscriptions.delete(uri);
    session.subscribing.delete(uri);
    return !sessionWatches(sessions, session.worker, uri, true) && !listeners.watchingAt(session.worker, uri);
  }
  // A listen's subscribe still unanswered is not confirmed either (Subscriptions.takenAt).
  const confirmed =
    sessionWatches(sessions, session.worker, uri, false, session) || listeners.takenAt(session.worker, uri);
  if (confirmed) session.subscriptions.add(uri);
  return !confirmed;
}

/**
 * Whether a session on `worker` (other than `except`) holds `uri`: its subscription accepted by the server, or,
 * with `inFlight`, on its way there (whom an unsubscribe at the server would leave in the dark).
 */
export function sessionWatches(
  sessions: ReadonlyMap<string, Session>,
  worker: Worker,
  uri: string,
  inFlight: boolean,
  except?: Session,
): boolean {
  for (const s of sessions.values())
    if (s !== except && s.worker === worker && (s.subscriptions.has(uri) || (inFlight && s.subscribing.has(uri))))
      return true;
  return false;
}

/** Why `session` may not subscribe to `uri` (answer -32602), or undefined: its subscriptions and those in flight. */
export function sessionSubscribeProblem(session: Session, uri: string): string | undefined {
  const held = session.subscriptions.has(uri) || session.subscribing.has(uri);
  return subscribeProblem(uri, held, session.subscriptions.size + session.subscribing.size, 'session');
}
