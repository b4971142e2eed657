/**
 * The sidecar's own `subscriptions/listen` at a modern (2026-07-28) server. Such a server sends no unsolicited
 * notifications: list changes and resource updates come only on a listen stream. So the sidecar holds one per
 * modern process, asking for every list change the server announces (its profile and its clients need them)
 * and for the resources its clients watch (legacy sessions' resources/subscribe, modern clients' listens).
 * When the watched set changes the stream is replaced: cancelled (`notifications/cancelled`, which ends a
 * listen) and opened again with the new set. What arrives goes the way of any server notification
 * (server-messages.ts), without the sidecar's subscription id.
 */
import type { Session } from './session.js';
import type { Subscriptions } from './subscriptions.js';
import type { Worker } from './worker.js';

export class ServerListen {
  private id: number | undefined;
  private uris = new Set<string>();

  constructor(private readonly worker: Worker) {}

  /** Listens (again, if the set changed) for the list changes and for updates of `uris`. */
  watch(uris: Iterable<string>): void {
    const next = new Set(uris);
    if (this.id !== undefined && next.size === this.uris.size && [...next].every((u) => this.uris.has(u))) return;
    this.close('the watched resources changed');
    this.uris = next;
    const params = this.worker.ownParams;
    if (!params || this.worker.state === 'exited') return;
    const capabilities = this.worker.profile.capabilities as Record<
      string,
      { listChanged?: boolean; subscribe?: boolean }
    >;
    const notifications: Record<string, unknown> = {};
    if (capabilities.tools?.listChanged) notifications.toolsListChanged = true;
    if (capabilities.prompts?.listChanged) notifications.promptsListChanged = true;
    if (capabilities.resources?.listChanged) notifications.resourcesListChanged = true;
    if (capabilities.resources?.subscribe && next.size > 0) notifications.resourceSubscriptions = [...next];
    if (Object.keys(notifications).length === 0) return;
    // A request of the sidecar's own with no timeout: it stays open for the process's life (or until replaced).
    const request = {
      jsonrpc: '2.0' as const,
      id: 0,
      method: 'subscriptions/listen',
      params: { ...params, notifications },
    };
    const ended = () => {
      if (this.id === sent) this.id = undefined;
    };
    const sent = this.worker.dispatch(request, { answer: ended, progress: () => {}, fail: ended });
    this.id = sent;
  }

  /** Ends the stream at the server. */
  close(reason: string): void {
    if (this.id !== undefined) this.worker.cancel(this.id, reason);
    this.id = undefined;
  }
}

/** The sidecar's listens at its modern server processes, each kept in line with what its clients watch. */
export class ServerListens {
  private readonly byWorker = new WeakMap<Worker, ServerListen>();

  constructor(
    private readonly sessions: ReadonlyMap<string, Session>,
    private readonly subscriptions: Subscriptions,
  ) {}

  /** Opens or updates `worker`'s listen: the URIs its sessions and every modern listener watch (legacy: no-op). */
  rewatch(worker: Worker): void {
    if (worker.profile?.era !== 'modern' || worker.state === 'exited') return;
    let listen = this.byWorker.get(worker);
    if (!listen) this.byWorker.set(worker, (listen = new ServerListen(worker)));
    const uris = new Set(this.subscriptions.uris());
    for (const session of this.sessions.values())
      // A shared session whose process was restarted still points at the old one until its next request.
      if (session.worker === worker || session.worker.state === 'exited')
        for (const uri of session.subscriptions) uris.add(uri);
    listen.watch(uris);
  }
}
