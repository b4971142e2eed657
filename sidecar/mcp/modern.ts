/**
 * MCP revision 2026-07-28 ("modern"): no initialize, no sessions; every request carries its protocol version,
 * client capabilities and identity in `_meta`, and the server answers statelessly. This module holds what the
 * sidecar needs to serve modern clients from any (legacy) stdio server: which requests are modern, which
 * methods exist, the `server/discover` result built from the handshaken profile, and the result fields the
 * revision requires (resultType, server identity, caching hints).
 */
import type { Call } from './call.js';
import { ErrorCode, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import type { ServerProfile } from './profile.js';
import { MODERN_PROTOCOL_VERSIONS, servedProtocolVersions } from './protocol-versions.js';
import { LOG_LEVELS, type LogLevel } from './session.js';

/** Modern protocol versions this sidecar serves, newest first. */
export const MODERN_VERSIONS: readonly string[] = MODERN_PROTOCOL_VERSIONS;

/** What `server/discover` and UnsupportedProtocolVersionError list: modern first, then every legacy version. */
export const ALL_VERSIONS: readonly string[] = servedProtocolVersions();

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/**
 * Methods a modern client may call. Those the sidecar answers itself (`server/discover`,
 * `subscriptions/listen`) and those it forwards to the server; anything else (including the legacy-only
 * `ping`, `logging/setLevel`, `resources/subscribe`) is "method not found" (HTTP 404).
 */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set([
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'completion/complete',
]);

/** Results that carry caching hints (CacheableResult). */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);

/** Methods whose `Mcp-Name` header mirrors a params field. */
export const NAMED: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** The protocol version a request declares in `_meta`, if it declares one (then it is a modern request). */
export function declaredVersion(message: unknown): unknown {
  const meta = (message as JsonRpcRequest | undefined)?.params?._meta;
  return meta && typeof meta === 'object' ? (meta as Record<string, unknown>)[META.protocolVersion] : undefined;
}

export function isModernVersion(version: unknown): boolean {
  return typeof version === 'string' && MODERN_VERSIONS.includes(version);
}

/** The `server/discover` result: the handshaken profile as a modern server describes itself. */
export function discoverResult(profile: ServerProfile): Record<string, unknown> {
  const result: Record<string, unknown> = {
    supportedVersions: [...ALL_VERSIONS],
    capabilities: profile.capabilities,
    resultType: 'complete',
    _meta: { [META.serverInfo]: profile.serverInfo },
  };
  if (profile.instructions !== undefined) result.instructions = profile.instructions;
  return result;
}

/** A legacy server's answer to a modern request, as the revision wants it (result fields, error codes). */
export function modernResponse(
  request: JsonRpcRequest,
  response: JsonRpcResponse,
  profile: ServerProfile | undefined,
  listTtlMs: number,
): void {
  if (response.result) return modernResult(request.method, response.result, profile, listTtlMs);
  const error = response.error;
  // Resource not found: legacy servers answer -32002 (or -32602, as the SDK does); the revision says -32602
  // with the URI in data. (The sidecar's own -32002, "server unavailable", carries retryAfterSeconds.)
  if (
    request.method === 'resources/read' &&
    error &&
    (error.code === ErrorCode.InvalidParams ||
      (error.code === ErrorCode.LegacyResourceNotFound &&
        (error.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds === undefined))
  ) {
    if (error.code === ErrorCode.LegacyResourceNotFound || /not found/i.test(error.message)) {
      error.code = ErrorCode.InvalidParams;
      error.data = {
        ...(typeof error.data === 'object' && error.data !== null ? error.data : {}),
        uri: request.params?.uri,
      };
    }
  }
}

/**
 * What revision 2026-07-28 requires of a result that a legacy server produced: `resultType` (complete, unless the
 * server already said), the server's identity in `_meta`, and for list results and resources/read the caching
 * hints. Nothing the server put in the result is dropped.
 */
export function modernResult(
  method: string,
  result: Record<string, unknown>,
  profile: ServerProfile | undefined,
  listTtlMs: number,
): void {
  result.resultType ??= 'complete';
  if (profile) {
    const meta = (result._meta && typeof result._meta === 'object' ? result._meta : (result._meta = {})) as Record<
      string,
      unknown
    >;
    meta[META.serverInfo] ??= profile.serverInfo;
  }
  if (CACHEABLE.has(method)) {
    result.ttlMs ??= listTtlMs;
    // The sidecar's lists do not vary by client: shared caches (a gateway) may keep them.
    result.cacheScope ??= 'public';
  }
}

/**
 * What a modern request's `_meta` says of its client for as long as the request waits on its call: its
 * capabilities and log level (the first request of a call, then each MRTR retry that takes it over).
 */
export function modernContext(request: JsonRpcRequest): NonNullable<Call['modern']> {
  const meta = (request.params?._meta ?? {}) as Record<string, unknown>;
  const level = meta[META.logLevel];
  return {
    capabilities: (meta[META.clientCapabilities] ?? {}) as Record<string, unknown>,
    logLevel: LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : undefined,
  };
}
