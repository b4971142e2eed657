/**
 * The table of MCP sessions: opening one (a worker and the `initialize` result from the pool, within
 * --max-sessions), adopting one another instance opened, and remembering closed ids so that a closed session
 * answers 404 instead of being adopted again.
 */
import type { Logger } from '../log.js';
import type { ClientChannel } from './channel.js';
import { NotReadyError, type WorkerSource } from './pool.js';
import type { ReadyWait } from './ready-wait.js';
import { SESSION_ID_PREFIX, Session } from './session.js';
import { levelAt } from './session-state.js';
import type { Worker } from './worker.js';

const CLOSED_IDS_KEPT = 10_000;

export class SessionTable {
  /** Whether new sessions are refused (the sidecar is shutting down). */
  draining = false;
  private readonly sessions = new Map<string, Session>();
  /** Sessions between the limit check and their creation (isolated mode: their process is starting). */
  private opening = 0;
  private readonly closedIds = new Set<string>();

  constructor(
    private readonly source: WorkerSource,
    private readonly readyWait: ReadyWait,
    private readonly opts: { maxSessions: number; requestTimeoutMs: number },
    private readonly log: Logger,
  ) {}

  get all(): ReadonlyMap<string, Session> {
    return this.sessions;
  }

  /**
   * A shared session served by another process from now on (its own exited): a session that set its log level
   * has that process told the level its sessions need, or its log lines would follow the server's default.
   */
  move(session: Session, worker: Worker): void {
    if (session.worker === worker) return;
    session.worker = worker;
    if (!session.logLevel) return;
    const level = levelAt(this.sessions, worker);
    void worker.request('logging/setLevel', { level }, this.opts.requestTimeoutMs).catch(() => {});
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  async open(
    params: Record<string, unknown>,
    client: ClientChannel,
  ): Promise<{ session: Session; result: Record<string, unknown> }> {
    if (this.draining)
      throw new NotReadyError('the sidecar is shutting down and takes no new sessions; connect to another instance', 5);
    const { worker, result } = await this.withSlot(() => this.openWorker(params));
    const session = new Session(
      String(result.protocolVersion),
      (params.capabilities ?? {}) as Record<string, unknown>,
      params.clientInfo,
      worker,
      client,
    );
    this.sessions.set(session.id, session);
    this.log.debug({ session: session.id, client: params.clientInfo }, 'session opened');
    return { session, result };
  }

  /**
   * Whether a session id this instance does not know may be adopted: only in shared mode (where a session is
   * nothing but bookkeeping over a shared process), only ids in our format, never one closed here.
   */
  canAdopt(id: string): boolean {
    return (
      this.source.mode === 'shared' &&
      !this.draining &&
      id.startsWith(SESSION_ID_PREFIX) &&
      id.length <= 100 &&
      !this.closedIds.has(id)
    );
  }

  /**
   * Takes over a session another instance of this service opened. Behind Kong, `initialize` carries no
   * Mcp-Session-Id and lands by the fallback, while later requests hash on the id and may land here; in shared
   * mode this instance can serve them as well as the first one. What the first instance knew of the client
   * (its capabilities) is not known here, so server→client requests for an adopted session are refused with
   * an error rather than sent to a client that may not handle them.
   */
  async adopt(id: string, protocolVersion: string, client: ClientChannel): Promise<Session> {
    const { worker } = await this.withSlot(() => this.openWorker({ protocolVersion }));
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const session = new Session(protocolVersion, {}, undefined, worker, client, id);
    this.sessions.set(id, session);
    this.log.info({ session: id }, 'adopted a session opened by another instance of this service (gateway routing)');
    return session;
  }

  /** Removes a session; false when it was already gone. */
  remove(session: Session): boolean {
    if (!this.sessions.delete(session.id)) return false;
    this.closedIds.add(session.id);
    // Bounded: the oldest closed ids are forgotten first (a Set iterates in insertion order).
    if (this.closedIds.size > CLOSED_IDS_KEPT) this.closedIds.delete(this.closedIds.values().next().value!);
    return true;
  }

  /**
   * Runs `open` holding a session slot. Sessions being opened count against --max-sessions: in isolated mode each
   * is a process being started, and the limit must hold before the process exists, not after.
   */
  private async withSlot<T>(open: () => Promise<T>): Promise<T> {
    if (this.sessions.size + this.opening >= this.opts.maxSessions) {
      throw new NotReadyError(
        `session limit reached (${this.opts.maxSessions}, --max-sessions); close idle sessions or add instances`,
        5,
      );
    }
    this.opening++;
    try {
      return await open();
    } finally {
      this.opening--;
    }
  }

  /** The pool's openWorker, waiting once for the server when it is down but coming back (--ready-wait). */
  private async openWorker(
    params: Record<string, unknown>,
  ): Promise<{ worker: Worker; result: Record<string, unknown> }> {
    try {
      return await this.source.openWorker(params);
    } catch (err) {
      // Only "no server up" is worth waiting for; a session process that failed to start is not.
      if (
        !(err instanceof NotReadyError) ||
        this.source.anyWorker() ||
        !this.readyWait.possible() ||
        !(await this.readyWait.ready())
      )
        throw err;
      return this.source.openWorker(params);
    }
  }
}
