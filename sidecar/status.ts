/**
 * The status document: what `GET /` answers to scripts (Accept: application/json) and what the status page polls.
 * It is /readyz's body (status, worker, restarts, last failure, sessions, calls in flight, publishers) plus who
 * the server is, the protocol eras served, the tool list's hash (the page reloads GET /tools when it changes) and,
 * with Consul, where the Consul UI shows the service. Always 200: probes keep /readyz and its status codes.
 */
import { MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS } from './mcp/protocol-versions.js';
import type { ServerProfile } from './mcp/profile.js';
import type { PublisherStatus } from './mesh/publisher.js';

export interface StatusSources {
  /** /readyz's body. */
  readiness(): Record<string, unknown>;
  /** The profile of the last READY server, kept while it restarts; undefined before the first READY. */
  profile(): ServerProfile | undefined;
  sidecarVersion: string;
  /** The Consul UI page of this service, when Consul is configured. */
  consulUi?: () => string;
}

export function statusDocument(sources: StatusSources): Record<string, unknown> {
  const body = sources.readiness();
  const profile = sources.profile();
  const publishers = ((body.publishers as PublisherStatus[] | undefined) ?? []).map((p) =>
    p.publisher === 'consul' && sources.consulUi ? { ...p, ui: sources.consulUi() } : p,
  );
  return {
    ...body,
    publishers,
    sidecarVersion: sources.sidecarVersion,
    server: profile
      ? {
          name: profile.serverInfo.name,
          version: profile.serverInfo.version,
          ...(profile.serverInfo.title ? { title: profile.serverInfo.title } : {}),
          // What the sidecar and the server agreed on over stdio.
          protocolVersion: profile.protocolVersion,
          toolCount: profile.tools.length,
          toolsHash: profile.toolsHash,
        }
      : null,
    // Clients reach the sidecar in both eras, whatever the server behind it speaks.
    eras: [
      { era: 'modern', mode: 'stateless', versions: MODERN_PROTOCOL_VERSIONS },
      { era: 'legacy', mode: 'sessions', versions: SUPPORTED_PROTOCOL_VERSIONS },
    ],
  };
}
