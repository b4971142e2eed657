/**
 * The router: many client channels over few worker channels. It opens, adopts and closes sessions (the table is
 * sessions.ts) and wires the channels: what a session's client sends goes through client-messages.ts to its
 * worker as calls (in-flight.ts rewrites ids, times out, retries); what a server says on its own goes out through
 * server-messages.ts; modern requests are stateless.ts's. It knows nothing of HTTP or of registries.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ClientChannel } from './channel.js';
import { ClientMessages } from './client-messages.js';
import { InFlight } from './in-flight.js';
import { InputRequired, type InputRequiredOptions } from './input-required.js';
import { idKey, resultResponse, type JsonRpcRequest, type JsonRpcResponse, type RequestId } from './jsonrpc.js';
import type { WorkerSource } from './pool.js';
import { ReadyWait } from './ready-wait.js';
import { RequestStateSeal } from './request-state.js';
import { LegacyOverModern } from './legacy-over-modern.js';
import { ServerListens } from './server-listen.js';
import { ServerMessages } from './server-messages.js';
import type { Session } from './session.js';
import { sessionWatches } from './session-state.js';
import { SessionTable } from './sessions.js';
import { Stateless } from './stateless.js';
import { atServer, Subscriptions } from './subscriptions.js';
import type { ToolPolicy } from './tool-policy.js';
import type { Worker } from './worker.js';

export interface RouterOptions extends InputRequiredOptions {
  requestTimeoutMs: number;
  sessionIdleMs: number;
  maxSessions: number;
  /** Requests in flight at one server process, and for one session (fairness: no client starves the rest). */
  maxInflight: number;
  maxSessionInflight: number;
  /** How long a request waits for a server that is starting or restarting (0 = fail at once). */
  readyWaitMs: number;
  /** Send calls of readOnly/idempotent tools again once when the server died under them. */
  retryIdempotent: boolean;
  /** The tools that exist for callers (--tools-allow/--tools-deny, and per caller --tool-scope). */
  tools: ToolPolicy;
}

export class Router {
  readonly sessions: SessionTable;
  /** Modern (2026-07-28) requests: stateless calls and subscriptions/listen streams. */
  readonly stateless: Stateless;
  /** Modern calls waiting for their client's input (Multi Round-Trip Requests). */
  readonly inputRequired: InputRequired;
  private readonly subscriptions = new Subscriptions();
  /** The sidecar's own subscriptions/listen at modern servers. */
  private readonly listens: ServerListens;
  /** Legacy sessions of a modern server. */
  private readonly legacyOverModern: LegacyOverModern;
  private readonly inFlight: InFlight;
  private readonly serverMessages: ServerMessages;
  private readonly clientMessages: ClientMessages;
  private readonly readyWait: ReadyWait;
  private readonly reaper: NodeJS.Timeout;

  constructor(
    private readonly source: WorkerSource,
    private readonly opts: RouterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.readyWait = new ReadyWait(opts.readyWaitMs, () => !source.failed());
    this.inFlight = new InFlight(source, this.readyWait, metrics, opts, log, (session, worker) =>
      this.sessions.move(session, worker),
    );
    this.sessions = new SessionTable(source, this.readyWait, opts, log);
    this.listens = new ServerListens(this.sessions.all, this.subscriptions);
    this.inputRequired = new InputRequired(this.inFlight, new RequestStateSeal(opts.stateKey), opts, log);
    this.serverMessages = new ServerMessages(
      this.sessions.all,
      this.subscriptions,
      this.inFlight,
      this.inputRequired,
      log,
    );
    this.clientMessages = new ClientMessages(
      source,
      this.sessions,
      this.inFlight,
      this.serverMessages,
      this.readyWait,
      this.subscriptions,
      opts,
    );
    this.stateless = new Stateless(
      source,
      this.inFlight,
      this.readyWait,
      this.subscriptions,
      opts,
      (worker, uri, inFlight) => sessionWatches(this.sessions.all, worker, uri, inFlight),
      this.inputRequired,
      (worker) => this.listens.rewatch(worker),
    );
    this.legacyOverModern = new LegacyOverModern(
      this.clientMessages,
      this.serverMessages,
      (session) => this.listens.rewatch(session.worker),
      opts.requestTimeoutMs,
    );
    const sweep = Math.max(1000, Math.min(30_000, opts.sessionIdleMs / 4));
    this.reaper = setInterval(() => this.reapIdle(), sweep);
    this.reaper.unref();
  }

  /** Calls in flight (sessions and REST). */
  get inflight(): number {
    return this.inFlight.count;
  }

  /** Requests waiting for a server that is starting or restarting. */
  get waiting(): number {
    return this.readyWait.size;
  }

  /** A new server process (any: supervised, spare, a session's own): what it says on its own comes here. */
  attach(worker: Worker): void {
    worker.onmessage = (message) => this.serverMessages.fromServer(worker, message);
    worker.onclose = () => this.workerGone(worker);
  }

  /**
   * A supervised server is READY: requests waiting for it go on; a modern one gets the sidecar's listen, and a
   * legacy one the subscriptions the sidecar holds for its clients.
   */
  workerUp(worker?: Worker): void {
    this.readyWait.up();
    if (worker) this.takeOver(worker);
  }

  /** `worker` takes over what exited processes held for the sidecar's clients: listened URIs, sessions' subscriptions. */
  private takeOver(worker: Worker): void {
    const listened = this.subscriptions.adopt(worker);
    if (worker.profile.era === 'modern') return this.listens.rewatch(worker);
    this.resubscribe(worker, listened);
  }

  /**
   * A restarted (or another running) legacy server knows none of the subscriptions an exited one held for the
   * sidecar's clients: the listen streams' URIs whose holder exited (`listened`, this process's now), and those of
   * shared sessions whose process exited. Such a session moves to this process now rather than at its next request,
   * so that its subscriptions and its requests are at the same process (with --workers another could be picked).
   * The sidecar subscribes it again, or those clients would silently get no more updates.
   */
  private resubscribe(worker: Worker, listened: string[]): void {
    if (!(worker.profile.capabilities.resources as { subscribe?: boolean } | undefined)?.subscribe) return;
    const timeoutMs = this.opts.requestTimeoutMs;
    // Listened URIs through Subscriptions, so that until this process answers, nobody is confirmed by them.
    for (const uri of listened)
      void this.subscriptions.resubscribe(worker, uri, timeoutMs).then((dropped) => {
        if (dropped > 0)
          this.log.warn(
            { uri, pid: worker.pid, streams: dropped },
            `the server process refused to subscribe again to a resource listen streams watched: ended those ${dropped} streams without a result, so their clients listen again (and are told the resource is not watched)`,
          );
      });
    const uris = new Set(listened);
    if (this.source.mode === 'shared')
      for (const session of this.sessions.all.values())
        if (session.worker.state === 'exited' && session.subscriptions.size > 0) {
          this.sessions.move(session, worker);
          for (const uri of session.subscriptions)
            if (!uris.has(uri)) {
              uris.add(uri);
              atServer(worker, 'resources/subscribe', uri, timeoutMs);
            }
        }
    if (uris.size > 0)
      this.log.info(
        { uris: uris.size, pid: worker.pid },
        `subscribed the server process to ${uris.size} resources its clients watch (an exited process held them)`,
      );
  }

  /** Every supervisor gave up: requests waiting for a restart fail now. */
  crashLooped(): void {
    this.readyWait.giveUp();
  }

  /** A worker is gone: its server requests can never be answered (its calls were failed by the worker). */
  private workerGone(worker: Worker): void {
    this.inFlight.workerGone(worker);
    this.serverMessages.workerGone(worker);
    // With --workers another process may be up: it takes over now, so listeners miss no updates until a restart.
    const other = this.source.anyWorker();
    if (other && other !== worker && other.state === 'ready' && !this.sessions.draining) this.takeOver(other);
  }

  /** Opens a session for `initialize` on `client`; the client's later messages arrive through the channel. */
  async openSession(
    initialize: JsonRpcRequest,
    client: ClientChannel,
  ): Promise<{ session: Session; response: JsonRpcResponse }> {
    const { session, result } = await this.sessions.open(initialize.params ?? {}, client);
    this.listen(session);
    return { session, response: resultResponse(initialize.id, result) };
  }

  /** Takes over a session another instance opened (see SessionTable.adopt). */
  async adoptSession(id: string, protocolVersion: string, client: ClientChannel): Promise<Session> {
    const session = await this.sessions.adopt(id, protocolVersion, client);
    this.listen(session);
    return session;
  }

  /** The session's messages go to their handler, chosen once: a legacy session of a modern server is translated. */
  private listen(session: Session): void {
    if (session.worker.profile.era === 'modern') {
      session.client.onmessage = (message) => this.legacyOverModern.fromClient(session, message);
      this.listens.rewatch(session.worker);
    } else session.client.onmessage = (message) => this.clientMessages.fromClient(session, message);
  }

  /** Stops taking sessions and waiting for restarts (shutdown). */
  drain(): void {
    this.sessions.draining = true;
    this.readyWait.stop();
  }

  closeSession(session: Session, reason: string): void {
    if (!this.sessions.remove(session)) return;
    for (const call of [...session.inflight.values()]) this.inFlight.cancel(call, `client session ended: ${reason}`);
    this.serverMessages.sessionClosed(session, reason);
    if (session.worker.profile.era === 'modern') this.listens.rewatch(session.worker);
    else
      // Its subscribes still in flight too: the server may take them (an unsubscribe of nothing does no harm).
      for (const uri of new Set([...session.subscriptions, ...session.subscribing.keys()])) {
        if (
          !sessionWatches(this.sessions.all, session.worker, uri, true) &&
          !this.subscriptions.watchingAt(session.worker, uri) &&
          session.worker.state !== 'exited'
        ) {
          atServer(session.worker, 'resources/unsubscribe', uri, this.opts.requestTimeoutMs);
        }
      }
    session.client.close(reason);
    this.source.release(session);
    this.log.debug({ session: session.id, reason }, 'session closed');
  }

  /** Isolated mode: a session's own process died; the session ends and its client gets 404 and starts anew. */
  closeSessionsOf(worker: Worker, reason: string): void {
    for (const session of [...this.sessions.all.values()])
      if (session.worker === worker) this.closeSession(session, reason);
  }

  closeAll(reason: string): void {
    this.readyWait.stop();
    clearInterval(this.reaper);
    this.inFlight.close();
    for (const session of [...this.sessions.all.values()]) this.closeSession(session, reason);
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const session of [...this.sessions.all.values()]) {
      if (
        now - session.lastActivity > this.opts.sessionIdleMs &&
        session.inflight.size === 0 &&
        !session.client.hasOpenStream()
      ) {
        this.log.info(
          { session: session.id, idleMs: now - session.lastActivity },
          'reaping idle session (no request and no open stream for --session-idle)',
        );
        this.closeSession(session, 'idle timeout');
      }
    }
  }

  /** A request the transport could not route (a bug of ours): it stops being in flight; the transport answers. */
  forget(session: Session, id: RequestId, reason: string): void {
    const call = session.inflight.get(idKey(id));
    if (call) this.inFlight.cancel(call, reason, 'error');
  }

  /** A changed tool list reached the registries: shared sessions hear of it (isolated ones keep their processes). */
  toolsChanged(): void {
    const notification = { jsonrpc: '2.0' as const, method: 'notifications/tools/list_changed' };
    this.subscriptions.deliver(notification);
    if (this.source.mode !== 'shared') return;
    for (const session of this.sessions.all.values()) session.client.send(notification);
  }
}
