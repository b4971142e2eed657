/**
 * JSON-RPC 2.0 shapes and the checks the hot path can afford. The SDK's zod schemas are exact but cost more
 * than the whole rest of a call; these structural checks are enough to keep malformed input from the child.
 */
export type RequestId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: RequestId;
  method: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}
export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: RequestId | null;
  result?: Record<string, unknown>;
  error?: JsonRpcErrorObject;
}
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ErrorCode = {
  /** The SDK's code for HTTP-transport errors that have no JSON-RPC meaning (406, 415, 405, 403, …). */
  TransportError: -32000,
  /** The SDK's code for an unknown or expired Mcp-Session-Id (HTTP 404: the client initializes again). */
  SessionNotFound: -32001,
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Same code the SDK uses for its own request timeouts. */
  RequestTimeout: -32001,
  /** The sidecar's own: the MCP server is not available (starting, restarting, exited, crash-looping). */
  ServerUnavailable: -32002,
  /** The sidecar's own: the server's reply was too large to relay. */
  ResponseTooLarge: -32003,
  /** The sidecar's own: no connected client can answer a server→client request. */
  NoClientForRequest: -32004,
  /** The sidecar's own: too many requests in flight (--max-inflight, --max-session-inflight); retry shortly. */
  Overloaded: -32005,
  /**
   * What legacy MCP servers answer for an unknown resource URI (the 2025 spec's -32002, the same number as the
   * sidecar's ServerUnavailable, told apart by the latter's data.retryAfterSeconds); 2026-07-28 uses InvalidParams.
   */
  LegacyResourceNotFound: -32002,
  // Revision 2026-07-28's codes (its reserved range -32020 … -32099):
  /** MCP-Protocol-Version, Mcp-Method, Mcp-Name or an Mcp-Param-* header disagrees with the body. */
  HeaderMismatch: -32020,
  /** The server needs a capability (elicitation, sampling, roots) the request's clientCapabilities lack. */
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

export type MessageKind = 'request' | 'notification' | 'response' | 'invalid';

/** Classifies a parsed value without trusting it. */
export function kindOf(value: unknown): MessageKind {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'invalid';
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'invalid';
  const hasId = 'id' in m;
  const id = m.id;
  if (typeof m.method === 'string') {
    if (m.params !== undefined && (m.params === null || typeof m.params !== 'object')) return 'invalid';
    if (!hasId) return 'notification';
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? 'request' : 'invalid';
  }
  if (hasId && ('result' in m || 'error' in m)) {
    if (typeof id !== 'string' && typeof id !== 'number' && id !== null) return 'invalid';
    return 'response';
  }
  return 'invalid';
}

/** Map key that keeps "1" and 1 apart: both are valid, distinct JSON-RPC ids. */
export function idKey(id: RequestId): string | number {
  return typeof id === 'number' ? id : `s:${id}`;
}

export function errorResponse(id: RequestId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcErrorObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}

export function resultResponse(id: RequestId, result: Record<string, unknown>): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

/**
 * `table[key]` when the table itself has it: a server names methods and levels, and `constructor` or `toString`
 * would otherwise find Object.prototype's functions.
 */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
