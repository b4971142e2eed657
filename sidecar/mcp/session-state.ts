/**
 * What a shared server process cannot keep apart per session, kept by the sidecar: each session's log level (the
 * server gets the most verbose one asked for, each session is filtered to its own) and resource subscriptions (the
 * server holds one per URI for everyone).
 */
import { ErrorCode, errorResponse, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import { LOG_LEVELS, type LogLevel, type Session } from './session.js';
import type { Subscriptions } from './subscriptions.js';
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
  let min = LOG_LEVELS.length - 1;
  for (const s of sessions.values())
    if (s.logLevel && s.worker === session.worker) min = Math.min(min, LOG_LEVELS.indexOf(s.logLevel));
  request.params = { ...request.params, level: LOG_LEVELS[min] };
  return undefined;
}

/**
 * resources/subscribe or unsubscribe from one session: says whether the request must reach the server (the first
 * subscribe, the last unsubscribe) or is the sidecar's own bookkeeping, and records what it can now. An
 * unsubscribe is recorded at once; a subscribe that goes to the server only once the server accepts it (the
 * caller's business), so that a refused one leaves nobody believing the server watches the URI.
 */
export function bookSubscription(
  session: Session,
  request: JsonRpcRequest,
  sessions: ReadonlyMap<string, Session>,
  listeners: Subscriptions,
): boolean {
  const uri = request.params!.uri as string;
  const othersWatching = watchers(sessions, session.worker, uri).some((s) => s !== session) || listeners.watching(uri);
  if (request.method === 'resources/unsubscribe') session.subscriptions.delete(uri);
  else if (othersWatching) session.subscriptions.add(uri);
  return !othersWatching;
}

/** The sessions on `worker` subscribed to `uri`. */
export function watchers(sessions: ReadonlyMap<string, Session>, worker: Worker, uri: string): Session[] {
  return [...sessions.values()].filter((s) => s.worker === worker && s.subscriptions.has(uri));
}
