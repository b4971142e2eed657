/**
 * `subscriptions/listen` (revision 2026-07-28): long-lived streams of the change notifications a client opted in
 * to, each tagged with its subscription id. Replaces the legacy GET stream and resources/subscribe for modern
 * clients; the sidecar subscribes at the server on their behalf (see Stateless.listen).
 */
import type { Channel } from './channel.js';
import type { JsonRpcNotification, RequestId } from './jsonrpc.js';
import { META } from './modern.js';

export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const LIST_CHANGED: Record<string, keyof SubscriptionFilter> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

export class Subscription {
  constructor(
    readonly id: RequestId,
    readonly filter: SubscriptionFilter,
    readonly client: Channel,
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

  add(subscription: Subscription): void {
    this.all.add(subscription);
  }

  remove(subscription: Subscription): void {
    this.all.delete(subscription);
  }

  /** Whether any listener watches `uri` (then the server keeps a subscription for it). */
  watching(uri: string): boolean {
    for (const s of this.all) if (s.filter.resourceSubscriptions?.includes(uri)) return true;
    return false;
  }

  /** Every URI some listener watches. */
  uris(): string[] {
    const uris: string[] = [];
    for (const s of this.all) uris.push(...(s.filter.resourceSubscriptions ?? []));
    return uris;
  }

  deliver(notification: JsonRpcNotification): void {
    for (const s of this.all) if (s.matches(notification)) s.deliver(notification);
  }

  get size(): number {
    return this.all.size;
  }
}
