/**
 * Request metadata headers of revision 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and the
 * `Mcp-Param-{name}` headers a tool's `x-mcp-header` annotations ask for. Gateways route and rate-limit on them
 * without parsing bodies, so a request whose headers say something else than its body is refused (400,
 * HeaderMismatch): otherwise a gateway and the server would act on two different requests.
 */
import type { IncomingMessage } from 'node:http';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { JsonRpcRequest } from '../mcp/jsonrpc.js';
import { NAMED } from '../mcp/modern.js';
import { toolNamed, type ServerProfile } from '../mcp/profile.js';
import { headerLines } from './header-lines.js';
import { decodeHeaderValue, isPlainValue, sameValue, Unreadable } from './header-value.js';

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Why Mcp-Method, Mcp-Name or Mcp-Param-* do not match the body (HeaderMismatch), or undefined when they do. */
export function headerMismatch(
  req: IncomingMessage,
  request: { method: string; params?: JsonRpcRequest['params'] },
  profile: ServerProfile,
): string | undefined {
  const method = header(req, 'mcp-method');
  if (method === undefined) return 'the Mcp-Method header is required';
  if (method !== request.method) return `Mcp-Method header "${method}" does not match body method "${request.method}"`;
  const field = NAMED[request.method];
  if (field) {
    const raw = header(req, 'mcp-name');
    if (raw === undefined) return `the Mcp-Name header is required for ${request.method}`;
    const body = request.params?.[field];
    // The common case, a plain name equal to the body's, needs no decoding.
    if (raw !== body || !isPlainValue(raw)) {
      if (!once(req, 'mcp-name', raw)) return 'more than one Mcp-Name header; send exactly one';
      const name = decodeHeaderValue(raw);
      if (name instanceof Unreadable) return `the Mcp-Name header ${name.why}`;
      if (name !== body) return `Mcp-Name header "${name}" does not match body params.${field} ${JSON.stringify(body)}`;
    }
  }
  if (request.method === 'tools/call') {
    const tool = toolNamed(profile, request.params?.name);
    if (tool) return paramMismatch(req, tool, (request.params?.arguments ?? {}) as Record<string, unknown>);
  }
  return undefined;
}

/**
 * The `Mcp-Param-{name}` headers a tool's schema designates: each must be present when its argument has a value,
 * and equal to it (integers compared as decimal numbers, exactly: see sameValue). Annotations that break the
 * revision's rules (not reachable by `properties` alone, not a primitive) designate nothing.
 */
function paramMismatch(req: IncomingMessage, tool: Tool, args: Record<string, unknown>): string | undefined {
  let params = paramsByTool.get(tool);
  if (!params) paramsByTool.set(tool, (params = headerParams(tool.inputSchema as Record<string, unknown>)));
  for (const { path, name, key, type } of params) {
    let value: unknown = args;
    for (const step of path)
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[step] : undefined;
    const raw = header(req, key);
    // Refused even when the argument is absent: the revision rejects any recognized header with invalid characters.
    if (raw !== undefined && !once(req, key, raw)) return `more than one Mcp-Param-${name} header; send exactly one`;
    const decoded = raw === undefined ? undefined : decodeHeaderValue(raw);
    if (decoded instanceof Unreadable) return `the Mcp-Param-${name} header ${decoded.why}`;
    if (value === undefined || value === null) {
      // A gateway routing on a header the body does not back would act on a value the server never sees.
      if (decoded !== undefined)
        return `Mcp-Param-${name} header "${decoded}" mirrors argument ${path.join('.')}, which the body does not carry (absent or null): omit the header or send the argument`;
      continue;
    }
    if (type === 'integer' && typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value))
      return `argument ${path.join('.')} is beyond the safe integer range (±9007199254740991) the revision allows an x-mcp-header integer: Mcp-Param-${name} cannot be checked against it`;
    if (decoded === undefined)
      return `the Mcp-Param-${name} header is required: tool "${tool.name}" mirrors argument ${path.join('.')} into it`;
    if (!sameValue(decoded, value, type))
      return `Mcp-Param-${name} header "${decoded}" does not match argument ${path.join('.')} ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** Whether a header came on one line. Only a value with a comma can be two joined, so most are not counted. */
function once(req: IncomingMessage, name: string, value: string): boolean {
  return !value.includes(',') || headerLines(req, name) === 1;
}

/** Each tool's annotations, found once per tool list (a changed list brings new Tool objects). */
const paramsByTool = new WeakMap<Tool, HeaderParam[]>();

/** An `x-mcp-header` annotation: the argument's path, the header's name as declared and as node keys it, the type. */
interface HeaderParam {
  path: string[];
  name: string;
  key: string;
  type: string;
}

/** The `x-mcp-header` annotations of a schema reachable through `properties` only, with their argument paths. */
export function headerParams(schema: Record<string, unknown> | undefined, path: string[] = []): HeaderParam[] {
  const found: HeaderParam[] = [];
  const properties = schema?.properties;
  if (!properties || typeof properties !== 'object') return found;
  for (const [key, property] of Object.entries(properties as Record<string, Record<string, unknown>>)) {
    if (!property || typeof property !== 'object') continue;
    const name = property['x-mcp-header'];
    const type = property.type as string;
    if (
      typeof name === 'string' &&
      /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) &&
      ['string', 'integer', 'boolean'].includes(type)
    ) {
      found.push({ path: [...path, key], name, key: `mcp-param-${name.toLowerCase()}`, type });
    }
    found.push(...headerParams(property, [...path, key]));
  }
  return found;
}
