/** The server's profile: what the handshake learned, and the hash that says when its tools changed. */
import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerProfile } from '../mesh/publisher.js';

export type { ServerProfile };

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
