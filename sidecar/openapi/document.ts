/**
 * The OpenAPI 3.1 description of the REST facade, generated from the live tool list: one `POST /tools/<name>`
 * operation per tool, its request body the tool's inputSchema, its 200 answer the tools/call result with
 * `structuredContent` typed by the tool's outputSchema, and the error answers the facade really gives. Pure: the
 * same profile, tools and options give the same document (and so the same ETag), wherever it is generated.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerProfile } from '../mcp/profile.js';
import { errorResponses, SCHEMAS } from './components.js';
import { componentSchema } from './tool-schema.js';

type Json = Record<string, unknown>;

export interface OpenApiServer {
  url: string;
  description: string;
  variables?: Record<string, { default: string; description?: string }>;
}

export interface DocumentOptions {
  /** Where callers reach the facade: the advertised sidecar first, then Kong's route when published. */
  servers: OpenApiServer[];
  /** --auth: with bearer or jwt every operation needs a bearer token. */
  auth: 'none' | 'bearer' | 'jwt';
  /** Scopes a token needs for a tool (--auth-scopes, --tool-scope), listed in the operation's security. */
  scopesFor?: (tool: string) => string[];
}

/** Annotation hints that are tags when true (MCP's defaults are not assumed: only what the server said). */
const HINT_TAGS: Array<[keyof NonNullable<Tool['annotations']>, string, string]> = [
  ['readOnlyHint', 'read-only', 'The tool does not modify its environment (readOnlyHint).'],
  ['destructiveHint', 'destructive', 'The tool may perform destructive updates (destructiveHint).'],
  ['idempotentHint', 'idempotent', 'Calling it again with the same arguments has no further effect (idempotentHint).'],
  ['openWorldHint', 'open-world', 'The tool interacts with an open world of external entities (openWorldHint).'],
];

/**
 * operationId per tool: the tool's name where it is a valid, unique identifier (MCP names are letters, digits,
 * `_`, `-` and `.`, which is what component keys allow too); other characters become `_`, and a clash gets `_2`…
 */
export function operationIds(names: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of names) {
    const base = name.replace(/[^A-Za-z0-9._-]/g, '_') || 'tool';
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

function operation(tool: Tool, id: string, components: Json, opts: DocumentOptions): Json {
  components[`${id}.input`] = componentSchema(tool.inputSchema as Json, `${id}.input`);
  let result: Json = { $ref: '#/components/schemas/CallToolResult' };
  if (tool.outputSchema) {
    components[`${id}.output`] = componentSchema(tool.outputSchema as Json, `${id}.output`);
    result = {
      allOf: [result, { properties: { structuredContent: { $ref: `#/components/schemas/${id}.output` } } }],
    };
  }
  const annotations = tool.annotations ?? {};
  const tags = HINT_TAGS.filter(([hint]) => annotations[hint] === true).map(([, tag]) => tag);
  const op: Json = {
    operationId: id,
    summary: tool.title ?? annotations.title ?? tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    ...(tags.length > 0 && { tags }),
    requestBody: {
      required: true,
      description: "The tool's arguments (an empty object for a tool that takes none).",
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${id}.input` } } },
    },
    responses: {
      '200': {
        description: 'The tool ran; `isError: true` in the body means the tool itself failed.',
        content: { 'application/json': { schema: result } },
      },
      ...errorResponses(opts.auth !== 'none'),
    },
    'x-mcp-tool-name': tool.name,
    ...(tool.annotations && { 'x-mcp-annotations': tool.annotations }),
  };
  const scopes = opts.scopesFor?.(tool.name) ?? [];
  if (opts.auth !== 'none' && scopes.length > 0) op.security = [{ bearerAuth: scopes }];
  return op;
}

/** The document for these tools (the ones that exist for the reader) of this server. */
export function openApiDocument(profile: ServerProfile, tools: readonly Tool[], opts: DocumentOptions): Json {
  const ids = operationIds(tools.map((t) => t.name));
  const schemas: Json = { ...SCHEMAS };
  const paths: Json = {};
  const used = new Set<string>();
  for (const tool of tools) {
    const op = operation(tool, ids.get(tool.name)!, schemas, opts);
    for (const tag of (op.tags as string[] | undefined) ?? []) used.add(tag);
    paths[`/tools/${encodeURIComponent(tool.name)}`] = { post: op };
  }
  const { serverInfo } = profile;
  const lines = [
    `The tools of the MCP server ${serverInfo.name} ${serverInfo.version} as a REST API, served by mcp-sidecar: ` +
      'POST the arguments as JSON to /tools/<name>, get the MCP tools/call result back.',
  ];
  if (profile.instructions) lines.push('', profile.instructions);
  const doc: Json = {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: serverInfo.title ?? serverInfo.name, version: serverInfo.version, description: lines.join('\n') },
    servers: opts.servers,
    tags: HINT_TAGS.filter(([, tag]) => used.has(tag)).map(([, name, description]) => ({ name, description })),
    paths,
    components: { schemas },
    'x-mcp-server': { ...serverInfo, protocolVersion: profile.protocolVersion, toolsHash: profile.toolsHash },
  };
  if (opts.auth !== 'none') {
    (doc.components as Json).securitySchemes = {
      bearerAuth: { type: 'http', scheme: 'bearer', ...(opts.auth === 'jwt' && { bearerFormat: 'JWT' }) },
    };
    doc.security = [{ bearerAuth: [] }];
  }
  return doc;
}
