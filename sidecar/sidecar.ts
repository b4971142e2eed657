/**
 * The composition root: builds the parts and wires their events, so that registries follow the live process
 * (publish on READY, report every ping, fail at once on exit or hang), and starts and stops them in the one safe
 * order: withdraw → drain → stop the server processes → close HTTP.
 *
 *   pool ──worker──▶ router.attach (server messages), garbage log
 *        ──up/down──▶ health ──health/profile──▶ publishers (Consul, Kong)
 *   HTTP ──▶ transport (sessions are client channels) ──▶ router ──▶ worker channels
 */
import type { Server } from 'node:http';
import { OrphanGuard } from './child/orphan-guard.js';
import type { Config } from './config.js';
import { GarbageLog } from './garbage-log.js';
import { Health } from './health.js';
import { instanceFor, ownHostNames, SIDECAR_VERSION, workerOptions } from './instance.js';
import { createHandler } from './http/app.js';
import { bearerAuthenticator, type Authenticator } from './http/auth-guard.js';
import { BearerTokens } from './http/bearer-tokens.js';
import { jwtAuthenticator, resourceMetadata } from './http/jwt-auth.js';
import { BodyReader } from './http/body.js';
import { closeServer, createHttpServer, listen } from './http/http-server.js';
import { callerIdentity } from './http/modern-requests.js';
import { buildOriginPolicy } from './http/origin-guard.js';
import { OpenApiRoute } from './http/openapi-route.js';
import { OwnerForward } from './http/owner-forward.js';
import { RestTools } from './http/rest-tools.js';
import { StreamableHttp } from './http/streamable-http.js';
import type { Logger } from './log.js';
import { IsolatedPool } from './mcp/isolated-pool.js';
import type { WorkerPool } from './mcp/pool.js';
import { Router } from './mcp/router.js';
import { SharedPool } from './mcp/shared-pool.js';
import type { ServerProfile } from './mcp/profile.js';
import { ConsulInstances } from './mesh/consul-instances.js';
import { consulUiLink } from './mesh/consul-ui.js';
import type { Instance, Publisher } from './mesh/publisher.js';
import { Metrics } from './metrics.js';
import { statusDocument } from './status.js';
import { documentOptions } from './openapi/options.js';

export type PublisherFactory = (instance: Instance) => Promise<Publisher[]>;

export class Sidecar {
  readonly metrics: Metrics;
  readonly router: Router;
  readonly pool: WorkerPool;
  readonly health: Health;
  private readonly transport: StreamableHttp;
  private readonly server: Server;
  private readonly orphanGuard: OrphanGuard;
  private readonly auth: Authenticator | undefined;
  private readonly ownerForward: OwnerForward;
  private publishers: Publisher[] = [];
  /** The last READY server's profile, shown by the status page also while the server restarts. */
  private profile: ServerProfile | undefined;
  private readonly startedAt = Date.now();
  instance!: Instance;
  url = '';

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly makePublishers: PublisherFactory,
    private readonly onFatal: (code: number) => void,
  ) {
    this.metrics = new Metrics({
      inflight: () => this.router.inflight,
      sessions: () => this.router.sessions.size,
      readyWorkers: () => this.pool.ready().length,
      queueDepth: () => this.pool.allWorkers().reduce((n, w) => n + w.inflight, this.router.waiting),
      waitingForReady: () => this.router.waiting,
      publisherStates: () => this.publishers.map((p) => p.status()),
      inputPending: () => this.router.inputRequired.size,
    });
    const serverLog = log.child({ server: config.name });
    this.orphanGuard = new OrphanGuard(log.child({ part: 'orphans' }));
    const options = workerOptions(config, this.orphanGuard);
    const policy = {
      minDelayMs: config.restartMinMs,
      maxDelayMs: config.restartMaxMs,
      crashLoopFailures: config.crashLoopRestarts,
      windowMs: config.crashLoopWindowMs,
    };
    this.pool =
      config.sessionMode === 'isolated'
        ? new IsolatedPool(config.warm, options, policy, serverLog)
        : new SharedPool(config.workers, options, policy, serverLog);
    this.router = new Router(
      this.pool,
      { ...config, tools: options.tools! },
      this.metrics,
      log.child({ part: 'router' }),
    );
    this.health = new Health(this.pool, this.metrics, log, {
      restarts: config.crashLoopRestarts,
      windowMs: config.crashLoopWindowMs,
    });

    const garbage = new GarbageLog(this.metrics, serverLog);
    this.pool.on('worker', (worker) => {
      this.router.attach(worker);
      worker.on('garbage', (line, reason) => garbage.line(line, reason));
    });
    this.pool.on('up', (worker) => this.router.workerUp(worker));
    this.pool.on('gone', (worker, reason) =>
      this.router.closeSessionsOf(worker, `its MCP server process ended: ${reason}`),
    );
    this.health.on('health', (health) => this.publishers.forEach((p) => p.report(health)));
    this.health.on('profile', (profile, change) => {
      this.profile = profile;
      // A restarted shared server that came back with other tools announced nothing: the sidecar tells sessions.
      if (!change.first && !change.announced) this.router.toolsChanged();
      this.publishers.forEach((p) => p.publish(profile));
    });
    this.health.on('failed', () => {
      this.router.crashLooped();
      if (config.exitOnFailure) void this.shutdown('crash loop (--exit-on-failure)').then(() => this.onFatal(1));
    });

    // One reading budget for every request body, /mcp and REST alike; it also refuses bodies past --max-depth.
    const body = new BodyReader({
      maxBytes: config.maxBodyBytes,
      maxDepth: config.maxDepth,
      maxReadingBytes: config.maxBodyReadingBytes,
    });
    const eventStore = { maxEvents: config.eventStoreEvents, maxBytes: config.eventStoreBytes };
    const httpLog = log.child({ part: 'http' });
    const auth = config.auth;
    const authLog = log.child({ part: 'auth' });
    if (auth.mode === 'bearer') this.auth = bearerAuthenticator(new BearerTokens(auth.tokenFile, authLog));
    if (auth.mode === 'jwt') this.auth = jwtAuthenticator(auth, authLog);
    // MRTR retries that reach a replica which does not hold their call: on to the owner, found in Consul.
    this.ownerForward = new OwnerForward({
      seal: this.router.inputRequired.seal,
      self: () => this.router.inputRequired.owner,
      instances: config.consul
        ? new ConsulInstances({ ...config.consul, service: config.name, timeoutMs: config.forwardTimeoutMs })
        : undefined,
      service: config.name,
      connectTimeoutMs: config.forwardTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      count: (outcome) => this.metrics.mrtrForwards.inc({ outcome }),
      identity: callerIdentity,
      log: httpLog,
    });
    this.transport = new StreamableHttp(
      this.router,
      {
        ...config,
        body,
        eventStore,
        onSlowStreamClosed: () => this.metrics.slowStreamsClosed.inc(),
        ownerForward: this.ownerForward,
      },
      httpLog,
    );
    const readiness = () =>
      this.health.readiness({
        name: config.name,
        sessions: this.router.sessions.size,
        inflight: this.router.inflight,
        publishers: this.publishers.map((p) => p.status()),
      });
    const consulUi = config.consul ? consulUiLink(config.consul, config.name) : undefined;
    this.server = createHttpServer(
      createHandler({
        mcp: this.transport,
        rest: new RestTools(this.router, this.pool, body, config.listTtlMs, options.tools!),
        openapi: new OpenApiRoute(
          this.router,
          this.pool,
          options.tools!,
          () => documentOptions(config, this.instance, options.tools!),
          config.listTtlMs,
        ),
        metrics: this.metrics,
        readiness,
        status: () =>
          statusDocument({
            readiness: () => readiness().body,
            profile: () => this.profile,
            sidecarVersion: SIDECAR_VERSION,
            consulUi,
          }),
        liveness: () => ({ status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) }),
        originPolicy: buildOriginPolicy(config.host, ownHostNames(config), config.allowedHosts, config.allowedOrigins),
        auth: this.auth,
        resourceMetadata: auth.mode === 'jwt' ? resourceMetadata(auth) : undefined,
        toolRoutePrefix: config.toolRoutePrefix || undefined,
        log,
      }),
      config,
      httpLog,
    );
  }

  async start(): Promise<string> {
    const port = await listen(this.server, this.config.port, this.config.host);
    this.url = `http://${this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host}:${port}`;
    this.instance = instanceFor(this.config, port);
    // requestState names the instance that holds a waiting call: the ID Consul lists it under.
    this.router.inputRequired.owner = this.instance.serviceId;
    this.publishers = await this.makePublishers(this.instance);
    if (this.config.auth.mode === 'none' && this.config.auth.explicit) {
      this.log.warn(
        { host: this.config.host },
        '--auth none: anyone who reaches this port may call every tool; keep it behind a gateway or on a private network, or use --auth bearer',
      );
    }
    if (this.config.allowedHosts.length === 0 && !['127.0.0.1', 'localhost', '::1'].includes(this.config.host)) {
      this.log.warn(
        { host: this.config.host },
        'bound to a non-loopback address without --allowed-hosts: any Host header is accepted; keep this sidecar on a private network or set --allowed-hosts',
      );
    }
    // Before the first spawn: the records are keyed by the service id, known only now.
    this.orphanGuard.start(this.instance.serviceId);
    this.pool.start();
    return this.url;
  }

  /** The safe order: out of the registries first, then let in-flight calls finish, then stop the server. */
  async shutdown(why: string): Promise<void> {
    if (this.health.draining) return;
    this.health.draining = true;
    this.router.drain();
    this.log.info({ why, inflight: this.router.inflight }, 'shutting down: withdrawing from registries');
    await Promise.all(this.publishers.map((p) => p.withdraw(5000)));
    const deadline = Date.now() + this.config.shutdownGraceMs;
    while (this.router.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.router.inflight > 0)
      this.log.warn({ inflight: this.router.inflight }, 'shutdown grace ran out; failing the requests still in flight');
    this.router.closeAll('the sidecar is shutting down');
    this.transport.close();
    await this.pool.stop({ stdinGraceMs: this.config.stopTimeoutMs, termGraceMs: this.config.stopTimeoutMs });
    await this.orphanGuard.close();
    this.auth?.close();
    this.ownerForward.close();
    await closeServer(this.server);
    this.log.info('stopped');
  }

  /** Second signal: no more patience. */
  forceStop(): void {
    for (const worker of this.pool.allWorkers()) worker.kill('forced stop (second signal)');
  }
}
