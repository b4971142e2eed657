/**
 * Which of the server's tools exist for callers (--tools-allow, --tools-deny; comma lists of names with `*`
 * globs). A tool that is not allowed does not exist: it is left out of the profile (so of GET /tools, the
 * registries and the tool hash), out of every tools/list answer, and a call of it gets the answer a server
 * gives for an unknown tool. Deny wins over allow; no allow list means every tool not denied.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, errorResponse, type JsonRpcResponse, type RequestId } from './jsonrpc.js';

/** `*` matches any run of characters (none included); everything else is itself. */
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

export class ToolPolicy {
  /** No lists: every tool exists, and nothing needs filtering. */
  readonly open: boolean;
  private readonly allow: RegExp[];
  private readonly deny: RegExp[];

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.map(globToRegExp);
    this.deny = deny.map(globToRegExp);
    this.open = allow.length === 0 && deny.length === 0;
  }

  allows(name: unknown): boolean {
    if (this.open) return true;
    if (typeof name !== 'string') return false;
    if (this.deny.some((re) => re.test(name))) return false;
    return this.allow.length === 0 || this.allow.some((re) => re.test(name));
  }

  /** The tools that exist for callers. */
  filter<T extends Pick<Tool, 'name'>>(tools: T[]): T[] {
    return this.open ? tools : tools.filter((t) => this.allows(t.name));
  }

  /** A tools/list result (one page) with the tools that do not exist taken out, in place. */
  filterResult(result: Record<string, unknown> | undefined): void {
    if (!this.open && Array.isArray(result?.tools)) result.tools = this.filter(result.tools as Tool[]);
  }
}

/** What an MCP server (the SDK's McpServer) answers for a tool it does not have. */
export function unknownTool(id: RequestId, name: unknown): JsonRpcResponse {
  return errorResponse(id, ErrorCode.InvalidParams, `Tool ${String(name)} not found`);
}
