/**
 * What one registry (Consul, Kong) must do for the ReconcilingPublisher, after registrator's RegistryAdapter
 * (bridge/types.go): apply the desired state one request at a time, forget what it believed after a failure,
 * remove this instance on withdrawal. The publisher owns everything the registries share: the desired state,
 * the loop, backoff, withdraw with a deadline, status, and logging once per state change. An adapter owns its
 * registry's requests and beliefs, and logs the events only it can name (registered, target removed, …).
 */
import type { PublisherState, WorkerHealth } from './publisher.js';
import type { ServerProfile } from '../mcp/profile.js';

/** The last health report and when it came (a passing too old to vouch for proves nothing). */
export interface HealthReport {
  value: WorkerHealth;
  at: number;
}

/** What the publisher wants true when it asks for a step. */
export interface Wanted {
  profile: ServerProfile;
  /** Undefined until the first report after READY. */
  health: HealthReport | undefined;
  /** The publisher's state before this step ('pending' until the first convergence). */
  state: PublisherState;
  now: number;
}

export interface Step {
  /** The registry held the desired state as of this step: from now on the publisher is 'published'. */
  converged: boolean;
  /** When the next step is due, in ms: 0 at once, Infinity only when something changes. */
  nextMs: number;
}

/** How log lines about this registry name it and what happens without us. */
export interface RegistryText {
  /** 'Consul', 'Kong'. */
  name: string;
  /** Where the registry is, as log fields (e.g. { url }). */
  where: Record<string, unknown>;
  /** What a converged publication is, for the line logged when the registry is reachable again. */
  converged: string;
  /** This instance in the registry, as log fields (e.g. { serviceId }). */
  entry: Record<string, unknown>;
  /** The withdrawal, and what removes the instance when it misses its deadline (logged then). */
  withdrawal: string;
  fallback: string;
}

export interface RegistryAdapter {
  /** Short name in status() ('consul', 'kong'). */
  readonly kind: string;
  readonly text: RegistryText;
  /** Longest wait between retries while the registry is down. */
  readonly backoffMaxMs: number;
  /** Anything was ever sent: only then may a withdrawal have something to remove. */
  readonly touched: boolean;
  /** One request toward the wanted state (or none, when it holds). Throws when the registry fails. */
  apply(wanted: Wanted): Promise<Step>;
  /** After a failure: the registry may be a new one, so believe nothing about what it holds. */
  forget(): void;
  /** Take this instance out of the registry (shutdown). "Already gone" counts as removed. */
  remove(): Promise<void>;
  /** Abort the request in flight (a withdrawal must not wait behind a slow register). */
  abort(): void;
  /** Abort and close the connections: no more requests. */
  close(): void;
}
