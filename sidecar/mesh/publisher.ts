/**
 * The one interface every registry sits behind (after registrator's RegistryAdapter): the sidecar tells each
 * publisher what it wants to be true, and the publisher's own reconcile loop converges the registry on it,
 * retrying with capped backoff. Calls never block serving: Consul or Kong being down is a publisher state,
 * not a sidecar failure.
 */
import type { ServerProfile } from '../mcp/profile.js';

/** Who this sidecar instance is in the mesh. */
export interface Instance {
  /** Service name (Consul service Name, Kong `mcp-<name>` entities). */
  name: string;
  /** Unique per instance (Consul service ID, Kong `instance:<id>` tag). */
  serviceId: string;
  /** Address and port other hosts use to reach this sidecar's HTTP server. */
  advertiseHost: string;
  advertisePort: number;
  sessionMode: 'shared' | 'isolated';
  sidecarVersion: string;
}

/** Liveness as the supervisor sees it: after every ping, and at once when the child exits, hangs or crash-loops. */
export type WorkerHealth =
  { status: 'passing'; latencyMs: number; toolCount: number } | { status: 'critical'; reason: string };

export type PublisherState =
  | 'idle' // nothing desired yet (server not READY)
  | 'pending' // desired state not yet applied (first attempt in flight)
  | 'published' // registry matches the desired state
  | 'unreachable' // registry down or failing; retrying with backoff
  | 'withdrawn'; // removed on purpose (shutdown)

export interface PublisherStatus {
  publisher: string;
  state: PublisherState;
  /** ISO time of the last state change. */
  since: string;
  lastError?: string;
}

export interface Publisher {
  readonly kind: string;
  /** Desired: this instance is published with this profile. Called on READY and whenever the profile changes. */
  publish(profile: ServerProfile): void;
  /** Liveness of the MCP server behind this instance. */
  report(health: WorkerHealth): void;
  /**
   * Remove this instance from the registry (shutdown). Resolves when done, or when `deadlineMs` passes, so a
   * registry that is down never stalls shutdown.
   */
  withdraw(deadlineMs: number): Promise<void>;
  status(): PublisherStatus;
}

/**
 * Only a finished handshake yields serverInfo, protocol version and every list: anything less is not a server a
 * registry may announce. Every publisher applies this same rule, so the registries never disagree.
 */
export function isCompleteProfile(profile: ServerProfile | undefined): boolean {
  return (
    typeof profile?.serverInfo?.name === 'string' &&
    typeof profile.protocolVersion === 'string' &&
    Array.isArray(profile.tools) &&
    profile.tools.every((t) => typeof t?.name === 'string') &&
    Array.isArray(profile.prompts) &&
    Array.isArray(profile.resources) &&
    typeof profile.toolsHash === 'string'
  );
}
