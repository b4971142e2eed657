/**
 * The composition root: builds the parts and wires their events, so that registries follow the live process
 * (publish on READY, report every ping, fail at once on exit or hang), and starts and stops them in the one safe
 * order: withdraw → drain → stop the server processes → close HTTP.
 *
 *   pool ──worker──▶ router.attach (server messages), garbage log
 *        ──up/down──▶ health ──health/profile──▶ publishers (Consul, Kong)
 *   HTTP face (http/http-face.ts) ──▶ transport (sessions are client channels) ──▶ router ──▶ worker channels
 */
import { OrphanGuard } from './child/orphan-guard.js';
import type { Config } from './config.js';
import { GarbageLog } from './garbage-log.js';
import { Health } from './health.js';
import { HttpFace } from './http/http-face.js';
import { instanceFor, poolFor, workerOptions } from './instance.js';
import type { Logger } from './log.js';
import type { WorkerPool } from './mcp/pool.js';
import type { ServerProfile } from './mcp/profile.js';
import { Router } from './mcp/router.js';
import type { Instance, Publisher } from './mesh/publisher.js';
import { Metrics } from './metrics.js';

export type PublisherFactory = (instance: Instance) => Promise<Publisher[]>;

export class Sidecar {
  private readonly metrics: Metrics;
  private readonly router: Router;
  private readonly pool: WorkerPool;
  private readonly health: Health;
  private readonly http: HttpFace;
  private readonly orphanGuard: OrphanGuard;
  private publishers: Publisher[] = [];
  /** The last READY server's profile, shown by the status page also while the server restarts. */
  private profile: ServerProfile | undefined;
  private instance!: Instance;

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
    this.pool = poolFor(config, options, serverLog);
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

    this.http = new HttpFace({
      config,
      log,
      router: this.router,
      pool: this.pool,
      health: this.health,
      metrics: this.metrics,
      tools: options.tools!,
      publishers: () => this.publishers,
      profile: () => this.profile,
      instance: () => this.instance,
    });
  }

  /** Listens, publishes where the registries are configured, then starts the server processes. */
  async start(): Promise<string> {
    const port = await this.http.listen(this.config, this.log);
    this.instance = instanceFor(this.config, port);
    // requestState names the instance that holds a waiting call: the ID Consul lists it under.
    this.router.inputRequired.owner = this.instance.serviceId;
    this.publishers = await this.makePublishers(this.instance);
    // Before the first spawn: the records are keyed by the service id, known only now.
    this.orphanGuard.start(this.instance.serviceId);
    this.pool.start();
    const host = this.config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
    this.http.closeStreams();
    await this.pool.stop({ stdinGraceMs: this.config.stopTimeoutMs, termGraceMs: this.config.stopTimeoutMs });
    await this.orphanGuard.close();
    await this.http.close();
    this.log.info('stopped');
  }

  /** Second signal: no more patience. */
  forceStop(): void {
    for (const worker of this.pool.allWorkers()) worker.kill('forced stop (second signal)');
  }
}
