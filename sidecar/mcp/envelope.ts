/**
 * What MCP requires of a request's envelope beyond JSON-RPC: `params` an object (never by-position), `_meta` an
 * object, and the string a method names its target by. SDK servers drop a request that fails their schema
 * without answering, so without this check the client would wait out the whole --request-timeout for nothing.
 * And what it requires of a server's progress notification, which the sidecar relays to clients.
 */
import type { JsonRpcRequest } from './jsonrpc.js';

/** Methods whose params must carry a string field, and which one (a Map: method names are the client's text). */
const REQUIRED_STRING: ReadonlyMap<string, string> = new Map([
  ['tools/call', 'name'],
  ['prompts/get', 'name'],
  ['resources/read', 'uri'],
  ['resources/subscribe', 'uri'],
  ['resources/unsubscribe', 'uri'],
  ['logging/setLevel', 'level'],
]);

/** The most of a client's `initialize` a session keeps for its life (its capabilities and client info), in bytes of JSON. */
const MAX_KEPT_INITIALIZE_BYTES = 65_536;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a request's params are malformed for MCP (answer -32602 at once), or undefined when they are fine. */
export function paramsProblem(request: JsonRpcRequest): string | undefined {
  const params: unknown = request.params;
  if (params !== undefined && !isObject(params)) {
    return `params of ${request.method} must be a JSON object (MCP has no by-position params), not ${Array.isArray(params) ? 'an array' : typeof params}`;
  }
  if (params !== undefined && params._meta !== undefined) {
    if (!isObject(params._meta)) return `params._meta of ${request.method} must be a JSON object`;
    const token = params._meta.progressToken;
    // A number JSON cannot hold (1e400 parses to Infinity) would come back in progress as null, matching nothing.
    if (token !== undefined && typeof token !== 'string' && !(typeof token === 'number' && Number.isFinite(token)))
      return 'params._meta.progressToken must be a string or a number (a finite one)';
  }
  const field = REQUIRED_STRING.get(request.method);
  if (field !== undefined && typeof params?.[field] !== 'string') {
    return `${request.method} needs params.${field} as a string`;
  }
  if (request.method === 'tools/call' && params?.arguments !== undefined && !isObject(params.arguments)) {
    return 'tools/call params.arguments must be a JSON object of the tool arguments';
  }
  return undefined;
}

const isFinite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/**
 * Why a server's `notifications/progress` is not one MCP allows (`progress` and `total` numbers, `message` a
 * string), or undefined: a client's schema may reject the whole stream for it, and a number JSON cannot hold
 * (1e400 parses to Infinity) would reach the client as null.
 */
export function progressProblem(params: Record<string, unknown> | undefined): string | undefined {
  if (!isFinite(params?.progress)) return 'notifications/progress whose progress is not a finite number';
  if (params!.total !== undefined && !isFinite(params!.total))
    return 'notifications/progress whose total is not a finite number';
  if (params!.message !== undefined && typeof params!.message !== 'string')
    return 'notifications/progress whose message is not a string';
  return undefined;
}

/**
 * Why an `initialize` is malformed (answer -32602, open no session), or undefined. What MCP's InitializeRequest
 * requires, as SDK servers check it; and a bound on what the session keeps of it.
 */
export function initializeProblem(params: unknown): string | undefined {
  if (!isObject(params))
    return 'initialize needs params as a JSON object with protocolVersion, capabilities and clientInfo';
  if (typeof params.protocolVersion !== 'string') return 'initialize needs params.protocolVersion as a string';
  if (!isObject(params.capabilities)) return 'initialize needs params.capabilities as a JSON object';
  const info = params.clientInfo;
  if (!isObject(info) || typeof info.name !== 'string' || typeof info.version !== 'string')
    return 'initialize needs params.clientInfo as a JSON object with name and version strings';
  // Bytes, not string length: 40,000 CJK characters are 40,000 UTF-16 units but 120,000 bytes.
  const kept = Buffer.byteLength(JSON.stringify(params.capabilities)) + Buffer.byteLength(JSON.stringify(info));
  if (kept > MAX_KEPT_INITIALIZE_BYTES)
    return `params.capabilities and params.clientInfo take ${kept} bytes as JSON; a session keeps at most ${MAX_KEPT_INITIALIZE_BYTES} of them`;
  return undefined;
}
