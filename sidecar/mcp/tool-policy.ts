/**
 * Which of the server's tools exist for callers (--tools-allow, --tools-deny; comma lists of names with `*`
 * globs). A tool that is not allowed does not exist: it is left out of the profile (so of GET /tools, the
 * registries and the tool hash), out of every tools/list answer, and a call of it gets the answer a server
 * gives for an unknown tool. Deny wins over allow; no allow list means every tool not denied.
 *
 * With --auth jwt, --tool-scope <tool>=<scope> narrows that per caller: a tool with a scope exists only for a
 * caller whose token grants it. Such a tool stays in the profile and the registries (it exists for some callers);
 * every list and call is filtered for the caller of that request.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from './caller.js';
import { ErrorCode, errorResponse, type JsonRpcResponse, type RequestId } from './jsonrpc.js';

/** `*` matches any run of characters (none included); everything else is itself. */
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  // `s`: `*` spans line breaks too, or a name with a newline would slip past a deny glob or a scope.
  return new RegExp(`^${source}$`, 's');
}

export class ToolPolicy {
  /** No lists and no scopes: every tool exists for everyone, and nothing needs filtering. */
  readonly open: boolean;
  /** Some tools need a scope: lists differ between callers (no shared cache may keep them). */
  readonly scoped: boolean;
  private readonly allow: RegExp[];
  private readonly deny: RegExp[];
  private readonly scopes: Array<{ tool: RegExp; scope: string }>;

  constructor(allow: readonly string[], deny: readonly string[], scopes: ReadonlyArray<[string, string]> = []) {
    this.allow = allow.map(globToRegExp);
    this.deny = deny.map(globToRegExp);
    this.scopes = scopes.map(([tool, scope]) => ({ tool: globToRegExp(tool), scope }));
    this.scoped = scopes.length > 0;
    this.open = allow.length === 0 && deny.length === 0 && !this.scoped;
  }

  /** Whether a tool exists for some caller (the profile, the registries). */
  allows(name: unknown): boolean {
    if (this.open) return true;
    if (typeof name !== 'string') return false;
    if (this.deny.some((re) => re.test(name))) return false;
    return this.allow.length === 0 || this.allow.some((re) => re.test(name));
  }

  /** Whether a tool exists for this caller: allowed, and every scope it needs granted (no caller: none granted). */
  allowsFor(name: unknown, caller: Caller | undefined): boolean {
    if (!this.allows(name)) return false;
    return !this.scoped || this.scopes.every((s) => !s.tool.test(name as string) || caller?.scopes.has(s.scope));
  }

  /** The scopes a caller's token must grant for this tool to exist for it (--tool-scope), in the order given. */
  scopesFor(name: string): string[] {
    return [...new Set(this.scopes.filter((s) => s.tool.test(name)).map((s) => s.scope))];
  }

  /** The tools that exist for some caller. */
  filter<T extends Pick<Tool, 'name'>>(tools: T[]): T[] {
    return this.open ? tools : tools.filter((t) => this.allows(t.name));
  }

  /** The tools that exist for this caller. */
  filterFor<T extends Pick<Tool, 'name'>>(tools: T[], caller: Caller | undefined): T[] {
    return this.open ? tools : tools.filter((t) => this.allowsFor(t.name, caller));
  }

  /** A tools/list result (one page) with the tools that do not exist for the caller taken out, in place. */
  filterResult(result: Record<string, unknown> | undefined, caller: Caller | undefined): void {
    if (!this.open && Array.isArray(result?.tools)) result.tools = this.filterFor(result.tools as Tool[], caller);
  }
}

/** What an MCP server (the SDK's McpServer) answers for a tool it does not have. */
export function unknownTool(id: RequestId, name: unknown): JsonRpcResponse {
  return errorResponse(id, ErrorCode.InvalidParams, `Tool ${String(name)} not found`);
}
