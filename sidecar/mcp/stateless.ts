/**
 * Serving modern (2026-07-28) requests statelessly from any server process: each request is one call on any ready
 * worker, answered to a one-shot client channel, with nothing kept between requests, so any replica can answer
 * any request. The client's capabilities and log level travel with the call; `subscriptions/listen` streams are
 * the only long-lived thing, and the sidecar holds the server's resource subscriptions for them.
 */
import type { Call } from './call.js';
import { tagCaller, type Caller } from './caller.js';
import type { Channel } from './channel.js';
import type { InFlight } from './in-flight.js';
import { MRTR_METHODS, type InputRequired } from './input-required.js';
import { ErrorCode, errorResponse, kindOf, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import { META, modernContext } from './modern.js';
import type { WorkerSource } from './pool.js';
import type { ServerProfile } from './profile.js';
import type { ReadyWait } from './ready-wait.js';
import {
  atServer,
  MAX_LISTENED_URIS,
  Subscription,
  type ListenChannel,
  subscribeProblem,
  type SubscriptionFilter,
  type Subscriptions,
} from './subscriptions.js';
import type { Worker } from './worker.js';

export class Stateless {
  constructor(
    private readonly source: WorkerSource,
    private readonly inFlight: InFlight,
    private readonly readyWait: ReadyWait,
    private readonly subscriptions: Subscriptions,
    private readonly opts: { requestTimeoutMs: number },
    /**
     * Whether a legacy session at `worker` holds `uri` (then the server's subscription is theirs too): accepted by
     * the server, or with `inFlight` also on its way there (which the server may yet refuse).
     */
    private readonly sessionsWatch: (worker: Worker, uri: string, inFlight: boolean) => boolean,
    /** Server→client requests of legacy servers bridged as Multi Round-Trip Requests. */
    private readonly input: InputRequired,
    /** A modern server's own listen follows what is watched (server-listen.ts). */
    private readonly rewatch: (worker: Worker) => void,
  ) {}

  /** The profile of a server that is up now (the hot path: no waiting, no promise). */
  currentProfile(): ServerProfile | undefined {
    return this.source.anyWorker()?.profile;
  }

  /** The server's profile, waiting for a restarting server within --ready-wait; undefined when none is up. */
  async profile(): Promise<ServerProfile | undefined> {
    await this.available();
    return this.source.anyWorker()?.profile;
  }

  unavailable(id: JsonRpcRequest['id']): JsonRpcResponse {
    return this.inFlight.unavailable(id);
  }

  /**
   * Forwards a session-less request to a ready server; its answer and related messages go to `client`. A modern
   * request carries its client's capabilities and log level; a REST call has neither. A modern request that may
   * take input (tools/call, prompts/get, resources/read) may be the retry of a call waiting for it: then it takes
   * that call over instead. `identity` is the caller's, when the HTTP request named one.
   */
  call(
    request: JsonRpcRequest,
    client: Channel,
    era: 'modern' | 'rest' = 'modern',
    identity?: string,
  ): Call | undefined {
    const worker = this.source.anyWorker();
    // A modern server answers its own InputRequiredResults and verifies its own requestState: its retries pass
    // straight through. Only a legacy server's server→client requests are the sidecar's to bridge.
    const bridged = era === 'modern' && MRTR_METHODS.has(request.method) && worker?.profile.era !== 'modern';
    const taken = bridged ? this.input.take(request, client, identity) : undefined;
    if (taken && 'error' in taken) {
      client.send(taken.error, request.id);
      return undefined;
    }
    if (taken && 'resumed' in taken) return taken.resumed;
    if (!worker) {
      client.send(this.inFlight.unavailable(request.id), request.id);
      return undefined;
    }
    // A REST call to a modern server: it needs the revision's _meta, and declares no client capabilities (a REST
    // caller cannot answer an InputRequiredResult).
    if (era === 'rest' && worker.profile.era === 'modern')
      request.params = { ...request.params, _meta: { ...worker.ownParams!._meta!, [META.clientCapabilities]: {} } };
    const call = this.inFlight.dispatch(worker, client, undefined, request);
    if (call && era === 'modern') call.modern = modernContext(request);
    if (call && taken) this.input.track(call, request, taken.offered, identity);
    return call;
  }

  /** Resolves once a server is ready, or at once when none is coming within --ready-wait (REST checks tools first). */
  async available(): Promise<void> {
    if (!this.source.anyWorker() && this.readyWait.possible()) await this.readyWait.ready();
  }

  /** A REST call: its client is a one-shot channel that takes the response. */
  async restCall(method: string, params: Record<string, unknown>, caller?: Caller): Promise<JsonRpcResponse> {
    await this.available();
    return new Promise((resolve) => {
      const client: Channel = {
        send: (message) => {
          if (kindOf(message) === 'response') resolve(message as JsonRpcResponse);
        },
        close: () => {},
      };
      const request: JsonRpcRequest = { jsonrpc: '2.0', id: 0, method, params };
      tagCaller(request, caller);
      this.call(request, client, 'rest');
    });
  }

  /** The client closed the response stream: for a modern request that is cancellation. */
  cancel(call: Call): void {
    this.inFlight.cancel(call, 'the client closed the response stream (MCP 2026-07-28 cancellation)');
  }

  /**
   * Opens a subscription: what it grants (resource subscriptions only where the server supports them), or an
   * error when no server is up. The sidecar subscribes at the server for each URI nobody else watches yet.
   */
  listen(request: JsonRpcRequest, client: ListenChannel): Subscription | JsonRpcResponse | Promise<Subscription> {
    const worker = this.source.anyWorker();
    if (!worker) return this.inFlight.unavailable(request.id);
    const asked = (request.params?.notifications ?? {}) as SubscriptionFilter;
    if (typeof asked !== 'object' || Array.isArray(asked))
      return errorResponse(
        request.id,
        ErrorCode.InvalidParams,
        'subscriptions/listen needs params.notifications as an object',
      );
    const resources = worker.profile.capabilities.resources as { subscribe?: boolean } | undefined;
    const uris = new Set<string>();
    if (Array.isArray(asked.resourceSubscriptions) && resources?.subscribe)
      for (const uri of asked.resourceSubscriptions) {
        if (typeof uri !== 'string') continue;
        const problem = subscribeProblem(uri, uris.has(uri), uris.size, 'listen stream');
        if (problem) return errorResponse(request.id, ErrorCode.InvalidParams, `subscriptions/listen: ${problem}`);
        uris.add(uri);
      }
    let fresh = 0;
    for (const uri of uris) if (!this.subscriptions.watching(uri)) fresh++;
    if (fresh > 0 && this.subscriptions.watchedCount + fresh > MAX_LISTENED_URIS)
      return errorResponse(
        request.id,
        ErrorCode.Overloaded,
        `listen streams watch ${this.subscriptions.watchedCount} resources already and this one adds ${fresh}; the sidecar watches at most ${MAX_LISTENED_URIS} for all of them: retry later, or watch fewer`,
      );
    const granted: SubscriptionFilter = {};
    for (const key of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const)
      if (asked[key] === true) granted[key] = true;
    if (uris.size > 0) granted.resourceSubscriptions = [...uris];
    const modern = worker.profile.era === 'modern';
    // A legacy server answers each subscribe: the acknowledgement grants only the URIs it did not refuse.
    const answers: Array<[string, Promise<boolean>]> = [];
    for (const uri of modern ? [] : uris) {
      let answer = this.subscriptions.answer(uri);
      // A session's subscribe still unanswered is no subscription yet: the listen sends its own.
      if (!answer && !this.subscriptions.watching(uri) && !this.sessionsWatch(worker, uri, false))
        answer = this.subscriptions.subscribe(worker, uri, this.opts.requestTimeoutMs);
      if (answer) answers.push([uri, answer]);
    }
    const subscription = new Subscription(request.id, granted, client);
    this.subscriptions.add(subscription, worker);
    if (modern) this.rewatch(worker);
    return answers.length === 0 ? subscription : this.answered(subscription, answers);
  }

  /**
   * The subscription once the server has answered its subscribes, without the URIs it refused. Each refusal is
   * withdrawn as it comes (not once every answer is in): until then the URI counts as watched, and a listen or a
   * session asking for it meanwhile would be granted it without reaching the server.
   */
  private async answered(subscription: Subscription, answers: Array<[string, Promise<boolean>]>) {
    const withdrawn = answers.map(([uri, answer]) =>
      answer.then((took) => {
        if (!took) this.subscriptions.withdraw(subscription, uri);
      }),
    );
    await Promise.all(withdrawn);
    return subscription;
  }

  /** A listen stream ended: the server's subscriptions nobody needs any more are released. */
  unlisten(subscription: Subscription): void {
    const released = this.subscriptions.remove(subscription);
    // Released where it is held (with --workers, not necessarily the process a request would pick now): a modern
    // server's own listen there watches one URI fewer, a legacy one gets an unsubscribe.
    for (const holder of new Set(released.map(([, holder]) => holder)))
      if (holder.profile.era === 'modern') this.rewatch(holder);
    for (const [uri, holder] of released)
      if (holder.profile.era !== 'modern' && holder.state !== 'exited' && !this.sessionsWatch(holder, uri, true))
        atServer(holder, 'resources/unsubscribe', uri, this.opts.requestTimeoutMs);
  }
}
