/**
 * The four calls the Consul publisher makes to the local agent, behind one object that hides which client makes
 * each: the `consul` npm package (the client the mesh's users know: host, port, secure, token, CA) where it can,
 * our RegistryClient where it cannot. Either way a failure is a RegistryError in the same words (request,
 * answer, what to check), and one abort() cancels whatever is in flight.
 */
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Consul from 'consul';
import { refused, RegistryClient, unanswered, type RegistryMethod } from './registry-client.js';

export interface ConsulApiOptions {
  /** Agent HTTP address, e.g. http://127.0.0.1:8500 (a path prefix is kept, for an agent behind a proxy). */
  url: URL;
  /** ACL token, sent as X-Consul-Token and never logged. */
  token?: string;
  /** The service name registered (the one rule a refusal names). */
  service: string;
  /** PEM CA for an https:// agent whose certificate the system CAs do not vouch for. */
  ca?: string;
  timeoutMs: number;
}

/** What the operator should check when the agent refuses a request: the exact rule the sidecar's token needs. */
function hintFor(service: string): (status: number) => string {
  return (status) =>
    status === 403
      ? `: the ACL token lacks service:write on "${service}" or is missing; give it a policy with the rule ` +
        `service "${service}" { policy = "write" } (consul/sidecar-policy.hcl) and pass it with --consul-token-file or CONSUL_HTTP_TOKEN`
      : '';
}

/** dns.lookup for a host name that may be an IPv6 literal in brackets ("[::1]"), as papi passes it on. */
const unbracketed = ((host: string, ...rest: unknown[]) =>
  (lookup as (...args: unknown[]) => void)(host.replace(/^\[(.*)\]$/, '$1'), ...rest)) as typeof lookup;

/** A call's options plus papi's ctx, which the package passes on but leaves out of its types. */
type Cancelable<T> = T & { ctx: EventEmitter };
/** papi's error for an answer other than 2xx: the response with its decoded body. */
type PapiError = Error & { response?: { statusCode: number; body?: unknown } };

export class ConsulApi {
  private readonly consul: Consul;
  private readonly agent: HttpAgent;
  /** Calls the package has no method for: register with replace-existing-checks, and reading one service. */
  private readonly direct: RegistryClient;
  private readonly base: string;
  private readonly hint: (status: number) => string;
  /** papi cancels a request when its ctx emits 'cancel'. */
  private inflight: EventEmitter | undefined;

  constructor(opts: ConsulApiOptions) {
    const { url, token, ca, timeoutMs } = opts;
    this.hint = hintFor(opts.service);
    const secure = url.protocol === 'https:';
    this.base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.agent = secure ? new HttpsAgent({ keepAlive: true, ca }) : new HttpAgent({ keepAlive: true });
    // Options the package passes to its HTTP layer (papi) but leaves out of its types: baseUrl keeps a path
    // prefix that host/port/secure cannot express; timeout bounds every call, so a hung agent is "unreachable",
    // not a stuck loop; lookup undoes papi handing an IPv6 literal to the resolver with its URL brackets on.
    const options = {
      baseUrl: `${this.base}/v1`,
      timeout: timeoutMs,
      lookup: unbracketed,
      agent: this.agent,
      defaults: token ? { token } : {},
    };
    this.consul = new Consul(options);
    this.direct = new RegistryClient({
      url,
      timeoutMs,
      ca,
      headers: token ? { 'x-consul-token': token } : {},
      hint: this.hint,
    });
  }

  /**
   * Direct: the package's register builds the body from its own option names and cannot add the
   * `replace-existing-checks` query, without which a check dropped from our definition would stay on the agent.
   */
  async register(registration: unknown): Promise<void> {
    await this.direct.request('PUT', '/v1/agent/service/register?replace-existing-checks=true', registration);
  }

  /** Direct: the package reads only the whole service list, whose ACL filtering would hide a 403 as "gone". */
  async service(id: string): Promise<void> {
    await this.direct.request('GET', `/v1/agent/service/${encodeURIComponent(id)}`);
  }

  /**
   * The TTL check's status with its output: pass/fail with `note`, which the agent writes to the check's Output
   * exactly as `check/update` does (both end in the same TTL update).
   */
  async updateTtl(checkId: string, status: 'passing' | 'critical', output: string): Promise<void> {
    const verb = status === 'passing' ? 'pass' : 'fail';
    await this.call('PUT', `/v1/agent/check/${verb}/${encodeURIComponent(checkId)}`, (ctx) => {
      const opts: Cancelable<{ id: string; note: string }> = { id: checkId, note: output, ctx };
      return status === 'passing' ? this.consul.agent.check.pass(opts) : this.consul.agent.check.fail(opts);
    });
  }

  async deregister(serviceId: string): Promise<void> {
    await this.call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`, (ctx) => {
      const opts: Cancelable<{ id: string }> = { id: serviceId, ctx };
      return this.consul.agent.service.deregister(opts);
    });
  }

  /** Aborts the request in flight, whichever client sent it. */
  abort(): void {
    this.direct.abort();
    this.inflight?.emit('cancel');
  }

  close(): void {
    this.abort();
    this.direct.close();
    this.agent.destroy();
  }

  /** One call through the package, its errors turned into RegistryErrors like the direct client's. */
  private async call(
    method: RegistryMethod,
    path: string,
    send: (ctx: EventEmitter) => Promise<unknown>,
  ): Promise<void> {
    const ctx = new EventEmitter();
    this.inflight = ctx;
    try {
      await send(ctx);
    } catch (err) {
      const response = (err as PapiError).response;
      if (!response) throw unanswered(method, `${this.base}${path}`, err);
      const body =
        typeof response.body === 'string'
          ? response.body
          : response.body === undefined
            ? ''
            : JSON.stringify(response.body);
      throw refused(method, path, response.statusCode, body, this.hint);
    } finally {
      if (this.inflight === ctx) this.inflight = undefined;
    }
  }
}
