/**
 * `subscriptions/listen` (revision 2026-07-28): long-lived streams of the change notifications a client opted in
 * to, each tagged with its subscription id. Replaces the legacy GET stream and resources/subscribe for modern
 * clients; the sidecar subscribes at the server on their behalf (see Stateless.listen).
 */
import type { Channel } from './channel.js';
import type { JsonRpcNotification, RequestId } from './jsonrpc.js';
import { META } from './modern.js';
import type { Worker } from './worker.js';

export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/**
 * What one client (a listen stream, a legacy session) may make the sidecar and the server hold: resource
 * subscriptions, each URI at most so long. Without them one request could make the sidecar send the server a
 * subscribe per URI by the tens of thousands, and keep them all.
 */
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 256;
export const MAX_SUBSCRIBED_URI_LENGTH = 2048;
/** Distinct URIs watched for all listen streams together: each new one is a subscribe the sidecar sends. */
export const MAX_LISTENED_URIS = 4096;

/**
 * Why a client may not subscribe to `uri` (answer -32602), or undefined: `held` says whether it holds `uri`
 * already (or is subscribing to it), `count` how many it holds or is taking.
 */
export function subscribeProblem(
  uri: string,
  held: boolean,
  count: number,
  client: 'listen stream' | 'session',
): string | undefined {
  if (uri.length > MAX_SUBSCRIBED_URI_LENGTH)
    return `a subscribed URI is at most ${MAX_SUBSCRIBED_URI_LENGTH} characters (this one has ${uri.length})`;
  if (!held && count >= MAX_SUBSCRIPTIONS_PER_CLIENT)
    return `at most ${MAX_SUBSCRIPTIONS_PER_CLIENT} resource subscriptions per ${client}${client === 'session' ? '; unsubscribe from one first' : '; open another stream for more'}`;
  return undefined;
}

/**
 * Takes or releases the server's subscription to `uri` on the sidecar's own account (for its listens, its
 * sessions that left, a restarted process): nobody waits for the answer, and a refusal changes none of its records.
 */
export function atServer(
  worker: Worker,
  method: 'resources/subscribe' | 'resources/unsubscribe',
  uri: string,
  timeoutMs: number,
): void {
  void worker.request(method, { uri }, timeoutMs).catch(() => {});
}

const LIST_CHANGED: Record<string, keyof SubscriptionFilter> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

/** Where a subscription's notifications go: a listen stream. */
export interface ListenChannel extends Channel {
  /**
   * Ends the stream without the listen's result: what it was granted cannot be kept, and a client learns so only
   * from an end that is not graceful (it re-listens and refetches; the revision has no way to revoke one URI).
   */
  drop(reason: string): void;
}

export class Subscription {
  constructor(
    readonly id: RequestId,
    readonly filter: SubscriptionFilter,
    readonly client: ListenChannel,
  ) {}

  matches(notification: JsonRpcNotification): boolean {
    if (notification.method === 'notifications/resources/updated')
      return this.filter.resourceSubscriptions?.includes(notification.params?.uri as string) ?? false;
    const key = LIST_CHANGED[notification.method];
    return key !== undefined && this.filter[key] === true;
  }

  /** Sends a copy tagged with this subscription's id (the same notification may go to several streams). */
  deliver(notification: JsonRpcNotification): void {
    const params = {
      ...notification.params,
      _meta: { ...(notification.params?._meta as object | undefined), [META.subscriptionId]: this.id },
    };
    this.client.send({ jsonrpc: '2.0', method: notification.method, params });
  }
}

export class Subscriptions {
  private readonly all = new Set<Subscription>();
  /** How many listeners watch each URI (a subscription's URIs are distinct: see Stateless.listen). */
  private readonly watchers = new Map<string, number>();
  /**
   * Subscribes the sidecar sent a legacy server for listens and whose answer has not come, by URI: a listen asking
   * for such a URI is acknowledged only once the server has answered, like the listen that caused the subscribe.
   */
  private readonly answering = new Map<string, Promise<boolean>>();
  /**
   * The server process that holds the subscription of each URI listeners watch. With --workers there are several:
   * the listeners' updates come from it alone, and it is the one released when the last listener goes.
   */
  private readonly holders = new Map<string, Worker>();

  /** Adds a subscription; `worker` holds the server's subscriptions of the URIs nobody watched before. */
  add(subscription: Subscription, worker: Worker): void {
    if (this.all.has(subscription)) return;
    this.all.add(subscription);
    for (const uri of subscription.filter.resourceSubscriptions ?? []) {
      const watchers = this.watchers.get(uri) ?? 0;
      this.watchers.set(uri, watchers + 1);
      if (watchers === 0) this.holders.set(uri, worker);
    }
  }

  /** Removes a subscription: the URIs nobody watches any more, each with the process that held it. */
  remove(subscription: Subscription): Array<[string, Worker]> {
    const released: Array<[string, Worker]> = [];
    if (!this.all.delete(subscription)) return released;
    for (const uri of subscription.filter.resourceSubscriptions ?? []) {
      const holder = this.unwatch(uri);
      if (holder) released.push([uri, holder]);
    }
    return released;
  }

  /** Whether listeners watch `uri` through `worker`'s subscription (then a session there must not release it). */
  watchingAt(worker: Worker, uri: string): boolean {
    return this.holders.get(uri) === worker;
  }

  /** Whether listeners watch `uri` through `worker`'s subscription, and the server has answered its subscribe. */
  takenAt(worker: Worker, uri: string): boolean {
    return this.watchingAt(worker, uri) && !this.answering.has(uri);
  }

  /**
   * A server process is up: it takes over the URIs whose holder exited, and the sidecar subscribes it to them
   * (a legacy server; a modern one's listen follows `uris()`). Returns those URIs.
   */
  adopt(worker: Worker): string[] {
    const adopted: string[] = [];
    for (const [uri, holder] of this.holders)
      if (holder.state === 'exited') {
        this.holders.set(uri, worker);
        adopted.push(uri);
      }
    return adopted;
  }

  /**
   * Subscribes a legacy server to `uri` for listens: resolves whether it took the subscription. Only an error
   * answer is a refusal; a timeout or the process's exit is not (a restarted server is subscribed again).
   */
  subscribe(worker: Worker, uri: string, timeoutMs: number): Promise<boolean> {
    const answer = worker.request('resources/subscribe', { uri }, timeoutMs).then(
      () => true,
      (err: { code?: unknown }) => typeof err.code !== 'number',
    );
    this.answering.set(uri, answer);
    void answer.then(() => {
      if (this.answering.get(uri) === answer) this.answering.delete(uri);
    });
    return answer;
  }

  /**
   * Subscribes a legacy process that took `uri` over (a restart, another of --workers) for the listeners who
   * were granted it. A refusal breaks that grant: their streams are dropped, and the URI is no longer watched, so
   * their next listen asks the server again. Resolves with the number of streams dropped.
   */
  async resubscribe(worker: Worker, uri: string, timeoutMs: number): Promise<number> {
    if (await this.subscribe(worker, uri, timeoutMs)) return 0;
    // Another process may hold it by now (this one exited meanwhile): that one's subscribe decides.
    if (this.holders.get(uri) !== worker) return 0;
    this.watchers.delete(uri);
    this.holders.delete(uri);
    let dropped = 0;
    for (const s of this.all)
      if (s.filter.resourceSubscriptions?.includes(uri)) {
        dropped++;
        s.client.drop(`the server process ${worker.pid} refused to subscribe to ${uri} again`);
      }
    return dropped;
  }

  /** The server's answer to a subscribe of `uri` sent for listens, while it is awaited. */
  answer(uri: string): Promise<boolean> | undefined {
    return this.answering.get(uri);
  }

  /** The server refused `uri`: the subscription (not acknowledged yet) stops asking for it. */
  withdraw(subscription: Subscription, uri: string): void {
    const uris = subscription.filter.resourceSubscriptions;
    const at = uris?.indexOf(uri) ?? -1;
    if (!this.all.has(subscription) || at < 0) return;
    uris!.splice(at, 1);
    this.unwatch(uri);
  }

  /** One listener fewer for `uri`; when it was the last, the process that held the URI. */
  private unwatch(uri: string): Worker | undefined {
    const left = (this.watchers.get(uri) ?? 1) - 1;
    if (left > 0) {
      this.watchers.set(uri, left);
      return undefined;
    }
    this.watchers.delete(uri);
    const holder = this.holders.get(uri);
    this.holders.delete(uri);
    return holder;
  }

  /** Whether any listener watches `uri` (then the server keeps a subscription for it). */
  watching(uri: string): boolean {
    return this.watchers.has(uri);
  }

  /** How many distinct URIs listeners watch. */
  get watchedCount(): number {
    return this.watchers.size;
  }

  /** Every URI some listener watches. */
  uris(): string[] {
    return [...this.watchers.keys()];
  }

  /** Sends a server's notification to the listeners that opted in; `from`: the process that sent it. */
  deliver(notification: JsonRpcNotification, from?: Worker): void {
    // An update counts from the URI's holder only: another process may hold a session's subscription to the same
    // URI, and one change would reach the listeners twice.
    if (
      notification.method === 'notifications/resources/updated' &&
      this.holders.get(notification.params?.uri as string) !== from
    )
      return;
    for (const s of this.all) if (s.matches(notification)) s.deliver(notification);
  }

  get size(): number {
    return this.all.size;
  }
}
