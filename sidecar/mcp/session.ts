/**
 * One MCP client session as the router sees it: who the client is, which worker serves it, its requests in
 * flight (keyed by the client's own ids), and the per-session state a shared server cannot keep apart.
 */
import { randomUUID } from 'node:crypto';
import type { Call } from './call.js';
import type { ClientChannel } from './channel.js';
import type { Worker } from './worker.js';

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Session ids carry a recognisable prefix so that, in shared mode, an instance can adopt a session another
 * instance of the same service issued (a gateway's hash ring may send it here; see SessionTable.adopt).
 */
export const SESSION_ID_PREFIX = 'mcps1-';

export class Session {
  readonly id: string;
  lastActivity = Date.now();
  readonly inflight = new Map<string | number, Call>();
  logLevel: LogLevel | undefined;
  readonly subscriptions = new Set<string>();
  /** Subscribes forwarded to the server and not answered yet: URI → the request's turn (see ClientMessages). */
  readonly subscribing = new Map<string, number>();

  constructor(
    readonly protocolVersion: string,
    readonly clientCapabilities: Record<string, unknown>,
    readonly clientInfo: unknown,
    public worker: Worker,
    readonly client: ClientChannel,
    id?: string,
  ) {
    this.id = id ?? SESSION_ID_PREFIX + randomUUID();
  }

  wantsLog(level: unknown): boolean {
    if (this.logLevel === undefined) return true;
    const index = LOG_LEVELS.indexOf(level as LogLevel);
    return index === -1 || index >= LOG_LEVELS.indexOf(this.logLevel);
  }
}
