/**
 * The parts of the OpenAPI document that do not depend on the tools: the shape of a `tools/call` result, the
 * error bodies the REST facade answers with (http/rest-tools.ts, body.ts, auth-guard.ts), and the responses that
 * use them. Each description says when the facade gives that status, so a client author need not read our code.
 */

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const SCHEMAS: Record<string, Json> = {
  ContentBlock: {
    description:
      'One block of a tool result: text, image, audio (base64 `data` with `mimeType`), a resource link or an embedded resource (MCP ContentBlock).',
    type: 'object',
    required: ['type'],
    properties: {
      type: { type: 'string', enum: ['text', 'image', 'audio', 'resource_link', 'resource'] },
      text: { type: 'string' },
      data: { type: 'string', contentEncoding: 'base64' },
      mimeType: { type: 'string' },
      uri: { type: 'string' },
      name: { type: 'string' },
      resource: { type: 'object' },
      annotations: { type: 'object' },
      _meta: { type: 'object' },
    },
  },
  CallToolResult: {
    description:
      'The MCP tools/call result as the server gave it. `isError: true` is a failure of the tool, not of the exchange: it comes with HTTP 200, so check this field.',
    type: 'object',
    required: ['content'],
    properties: {
      content: { type: 'array', items: ref('ContentBlock') },
      isError: { type: 'boolean' },
      structuredContent: { type: 'object' },
      _meta: { type: 'object' },
    },
  },
  Error: {
    description: 'What the REST facade answers when a call does not produce a tool result.',
    type: 'object',
    required: ['error'],
    properties: {
      error: { type: 'string', description: 'what went wrong and, where there is one, the fix' },
      code: {
        type: 'integer',
        description:
          'the JSON-RPC error code, when the MCP server or the sidecar answered the call with an error (-32602 invalid params, -32601 method not found, -32001 timed out, -32002 server not available, -32005 overloaded)',
      },
      data: { description: "the JSON-RPC error's data, as given" },
      tools: {
        type: 'array',
        items: { type: 'string' },
        description: 'with 404 for an unknown tool: the tools that exist for the caller',
      },
    },
  },
  TransportError: {
    description: 'A refusal before the call is looked at (authentication, Host/Origin): a JSON-RPC error with id null.',
    type: 'object',
    required: ['jsonrpc', 'id', 'error'],
    properties: {
      jsonrpc: { const: '2.0' },
      id: { type: 'null' },
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} },
      },
    },
  },
};

const errorBody = (description: string, schema = 'Error', headers?: Json): Json => ({
  description,
  ...(headers && { headers }),
  content: { 'application/json': { schema: ref(schema) } },
});

const RETRY_AFTER = {
  'Retry-After': { description: 'seconds after which a retry may succeed', schema: { type: 'integer' } },
};

/** Every error answer of POST /tools/{name}, by status. */
export function errorResponses(authenticated: boolean): Record<string, Json> {
  const responses: Record<string, Json> = {
    '400': errorBody(
      "The arguments do not match the tool's inputSchema (the message says where), the body is not a JSON object, is malformed or nests deeper than --max-depth; or the MCP server refused the arguments (`code` -32602).",
    ),
    '404': errorBody(
      'No such tool for this caller (`tools` lists those that exist), or the server lacks the method (-32601).',
    ),
    '413': errorBody('The body is larger than --max-body.'),
    '415': errorBody('The request has no `Content-Type: application/json`.'),
    '502': errorBody('The MCP server answered the call with another JSON-RPC error (`code`, `data` as it gave them).'),
    '503': errorBody(
      'The MCP server is not ready (starting, restarting, crash-looped) or too many calls are in flight (`code` -32005); retry after Retry-After.',
      'Error',
      RETRY_AFTER,
    ),
    '504': errorBody(
      'The call took longer than --request-timeout; the sidecar cancelled it at the server (`code` -32001).',
    ),
  };
  if (authenticated) {
    responses['401'] = errorBody('No or a bad bearer token (WWW-Authenticate says which).', 'TransportError', {
      'WWW-Authenticate': { schema: { type: 'string' } },
    });
    responses['403'] = errorBody(
      'The token lacks a scope this sidecar requires (insufficient_scope).',
      'TransportError',
    );
  }
  return responses;
}
