/** The server's profile: what the handshake learned, and the hash that says when its tools changed. */
import { createHash } from 'node:crypto';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerEra } from './era-probe.js';

/** What the handshake learned about the MCP server (its initialize result and every page of its lists). */
export interface ServerProfile {
  /** legacy: handshaken with `initialize`; modern: MCP 2026-07-28 only, found by `server/discover`. */
  era: ServerEra;
  serverInfo: { name: string; version: string; title?: string };
  /** The version spoken with the server over stdio (modern: the revision the sidecar uses with it). */
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  instructions?: string;
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** Short hash of the canonical tool list: changes exactly when tools change. */
  toolsHash: string;
}

export function toolsHash(tools: readonly Tool[]): string {
  const canonical = [...tools]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => JSON.stringify(t));
  return createHash('sha256').update(canonical.join('\n')).digest('hex').slice(0, 16);
}

/** The `initialize` result a client gets from the cached profile (shared mode answers it without the child). */
export function initializeResult(profile: ServerProfile, protocolVersion: string): Record<string, unknown> {
  const result: Record<string, unknown> = {
    protocolVersion,
    capabilities: profile.capabilities,
    serverInfo: profile.serverInfo,
  };
  if (profile.instructions !== undefined) result.instructions = profile.instructions;
  return result;
}

const toolIndexes = new WeakMap<ServerProfile, Map<string, Tool>>();

/** A tool of the profile by name, through an index built once per profile (every tools/call looks one up). */
export function toolNamed(profile: ServerProfile, name: unknown): Tool | undefined {
  if (typeof name !== 'string') return undefined;
  let index = toolIndexes.get(profile);
  if (!index) toolIndexes.set(profile, (index = new Map(profile.tools.map((t) => [t.name, t]))));
  return index.get(name);
}
