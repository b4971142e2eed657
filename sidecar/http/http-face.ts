/**
 * The HTTP face of one sidecar, assembled from the core it serves: one body reader (size, depth and reading
 * budget for /mcp and REST alike), the authenticator of --auth, the Streamable HTTP transport (with the MRTR
 * forward to the replica holding a call), the REST facade, the OpenAPI document, the status document, and the
 * node:http server running the route table. It keeps no protocol state: that is the router's.
 */
import type { Server } from 'node:http';
import type { Config } from '../config.js';
import type { Health } from '../health.js';
import { ownHostNames, SIDECAR_VERSION } from '../instance.js';
import type { Logger } from '../log.js';
import type { WorkerPool } from '../mcp/pool.js';
import type { ServerProfile } from '../mcp/profile.js';
import type { Router } from '../mcp/router.js';
import type { ToolPolicy } from '../mcp/tool-policy.js';
import { ConsulInstances } from '../mesh/consul-instances.js';
import { consulUiLink } from '../mesh/consul-ui.js';
import type { Instance, Publisher } from '../mesh/publisher.js';
import type { Metrics } from '../metrics.js';
import { documentOptions } from '../openapi/options.js';
import { statusDocument } from '../status.js';
import { createHandler } from './app.js';
import { bearerAuthenticator, type Authenticator } from './auth-guard.js';
import { BearerTokens } from './bearer-tokens.js';
import { BodyReader } from './body.js';
import { closeServer, createHttpServer, listen } from './http-server.js';
import { jwtAuthenticator, resourceMetadata } from './jwt-auth.js';
import { callerIdentity } from './caller-identity.js';
import { OpenApiRoute } from './openapi-route.js';
import { buildOriginPolicy, isLoopback } from './origin-guard.js';
import { OwnerForward } from './owner-forward.js';
import { RestTools } from './rest-tools.js';
import { StreamableHttp } from './streamable-http.js';

/** What the HTTP face reads of the core; functions where the value changes or is known only after start. */
export interface ServedCore {
  config: Config;
  router: Router;
  pool: WorkerPool;
  health: Health;
  metrics: Metrics;
  tools: ToolPolicy;
  publishers(): Publisher[];
  /** The last READY server's profile, shown by the status page also while the server restarts. */
  profile(): ServerProfile | undefined;
  instance(): Instance;
  log: Logger;
}

export class HttpFace {
  private readonly server: Server;
  private readonly transport: StreamableHttp;
  private readonly auth: Authenticator | undefined;
  private readonly ownerForward: OwnerForward;
  private readonly startedAt = Date.now();

  constructor(core: ServedCore) {
    const { config, router, pool, metrics, tools, log } = core;
    const httpLog = log.child({ part: 'http' });
    const body = new BodyReader(
      {
        maxBytes: config.maxBodyBytes,
        maxDepth: config.maxDepth,
        maxReadingBytes: config.maxBodyReadingBytes,
      },
      httpLog,
    );
    this.auth = authenticator(config, log.child({ part: 'auth' }));
    // MRTR retries that reach a replica which does not hold their call: on to the owner, found in Consul.
    this.ownerForward = new OwnerForward({
      seal: router.inputRequired.seal,
      self: () => router.inputRequired.owner,
      instances: config.consul
        ? new ConsulInstances({ ...config.consul, service: config.name, timeoutMs: config.forwardTimeoutMs })
        : undefined,
      service: config.name,
      connectTimeoutMs: config.forwardTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      count: (outcome) => metrics.mrtrForwards.inc({ outcome }),
      identity: callerIdentity,
      log: httpLog,
    });
    this.transport = new StreamableHttp(
      router,
      {
        ...config,
        body,
        eventStore: { maxEvents: config.eventStoreEvents, maxBytes: config.eventStoreBytes },
        onSlowStreamClosed: () => metrics.slowStreamsClosed.inc(),
        ownerForward: this.ownerForward,
      },
      httpLog,
    );
    const readiness = () =>
      core.health.readiness({
        name: config.name,
        sessions: router.sessions.size,
        inflight: router.inflight,
        publishers: core.publishers().map((p) => p.status()),
      });
    const consulUi = config.consul ? consulUiLink(config.consul, config.name) : undefined;
    const handler = createHandler({
      mcp: this.transport,
      rest: new RestTools(router, pool, body, config.listTtlMs, tools),
      openapi: new OpenApiRoute(
        router,
        pool,
        tools,
        () => documentOptions(config, core.instance(), tools),
        config.listTtlMs,
      ),
      metrics,
      readiness,
      status: () =>
        statusDocument({
          readiness: () => readiness().body,
          profile: core.profile,
          sidecarVersion: SIDECAR_VERSION,
          consulUi,
        }),
      liveness: () => ({ status: 'ok', uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) }),
      originPolicy: buildOriginPolicy(config.host, ownHostNames(config), config.allowedHosts, config.allowedOrigins),
      auth: this.auth,
      resourceMetadata: config.auth.mode === 'jwt' ? resourceMetadata(config.auth) : undefined,
      toolRoutePrefix: config.toolRoutePrefix || undefined,
      log,
    });
    this.server = createHttpServer(handler, config, httpLog);
  }

  /** Listens on --host/--port; resolves to the port bound (--port 0 picks one). */
  async listen(config: Config, log: Logger): Promise<number> {
    const port = await listen(this.server, config.port, config.host);
    if (config.auth.mode === 'none' && config.auth.explicit) {
      log.warn(
        { host: config.host },
        '--auth none: anyone who reaches this port may call every tool; keep it behind a gateway or on a private network, or use --auth bearer',
      );
    }
    if (config.allowedHosts.length === 0 && !isLoopback(config.host)) {
      log.warn(
        { host: config.host },
        'bound to a non-loopback address without --allowed-hosts: any Host header is accepted; keep this sidecar on a private network or set --allowed-hosts',
      );
    }
    return port;
  }

  /** Ends the SSE streams (sessions were closed by the router): the first step of closing. */
  closeStreams(): void {
    this.transport.close();
  }

  async close(): Promise<void> {
    this.auth?.close();
    this.ownerForward.close();
    await closeServer(this.server);
  }
}

function authenticator(config: Config, log: Logger): Authenticator | undefined {
  const auth = config.auth;
  if (auth.mode === 'bearer') return bearerAuthenticator(new BearerTokens(auth.tokenFile, log));
  if (auth.mode === 'jwt') return jwtAuthenticator(auth, log);
  return undefined;
}
