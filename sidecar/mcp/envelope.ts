/**
 * What MCP requires of a request's envelope beyond JSON-RPC: `params` an object (never by-position), `_meta` an
 * object, and the string a method names its target by. SDK servers drop a request that fails their schema
 * without answering, so without this check the client would wait out the whole --request-timeout for nothing.
 */
import type { JsonRpcRequest } from './jsonrpc.js';

/** Methods whose params must carry a string field, and which one. */
const REQUIRED_STRING: Record<string, string> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'resources/subscribe': 'uri',
  'resources/unsubscribe': 'uri',
  'logging/setLevel': 'level',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a request's params are malformed for MCP (answer -32602 at once), or undefined when they are fine. */
export function paramsProblem(request: JsonRpcRequest): string | undefined {
  const params: unknown = request.params;
  if (params !== undefined && !isObject(params)) {
    return `params of ${request.method} must be a JSON object (MCP has no by-position params), not ${Array.isArray(params) ? 'an array' : typeof params}`;
  }
  if (params !== undefined && params._meta !== undefined && !isObject(params._meta)) {
    return `params._meta of ${request.method} must be a JSON object`;
  }
  const field = REQUIRED_STRING[request.method];
  if (field !== undefined && typeof params?.[field] !== 'string') {
    return `${request.method} needs params.${field} as a string`;
  }
  if (request.method === 'tools/call' && params?.arguments !== undefined && !isObject(params.arguments)) {
    return 'tools/call params.arguments must be a JSON object of the tool arguments';
  }
  return undefined;
}
