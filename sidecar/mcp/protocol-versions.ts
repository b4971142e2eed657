/**
 * The MCP protocol versions the sidecar speaks: the same lists as the SDK's `types.js`, which the sidecar does
 * not load at run time because its zod schemas cost ~17 MB of memory for these two constants.
 * test/mcp/protocol-versions.test.ts fails when an SDK upgrade changes them, so they cannot drift apart.
 */
export const LATEST_PROTOCOL_VERSION = '2025-11-25';

/** Legacy (session) versions: a client picks one with `initialize` and keeps it for the session. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
  '2024-10-07',
];

/**
 * Modern (stateless) versions: no `initialize` and no session; every request names its version in `_meta`.
 * The SDK 1.x the legacy list mirrors does not know these, so this list is ours.
 */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/** Every version served, newest era first: what `server/discover` and the registries announce. */
export function servedProtocolVersions(): string[] {
  return [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];
}
