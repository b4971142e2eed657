/**
 * Who this sidecar is, derived from the configuration: its version, its instance in the mesh (service id and the
 * address others reach it at), the host names it answers to, the options its server processes start with, and
 * the pool of them that --session-mode asks for.
 */
import { hostname } from 'node:os';
import { childEnvironment } from './child/child-env.js';
import type { OrphanGuard } from './child/orphan-guard.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { IsolatedPool } from './mcp/isolated-pool.js';
import type { WorkerPool } from './mcp/pool.js';
import { SharedPool } from './mcp/shared-pool.js';
import { ToolPolicy } from './mcp/tool-policy.js';
import type { WorkerOptions } from './mcp/worker.js';
import { kongEntityName } from './mesh/kong-state.js';
import type { Instance } from './mesh/publisher.js';
import { defaultServiceId } from './options/service-id.js';

export const SIDECAR_VERSION = '0.1.0';

export function workerOptions(config: Config, guard?: OrphanGuard): WorkerOptions {
  return {
    child: {
      command: config.command,
      args: config.args,
      env: childEnvironment(process.env, config.passEnv, config.env),
      cwd: config.cwd,
      maxMessageBytes: config.maxMessageBytes,
      guard,
    },
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    pingTimeoutMs: config.pingTimeoutMs,
    pingMisses: config.pingMisses,
    clientInfo: { name: 'mcp-sidecar', version: SIDECAR_VERSION },
    tools: new ToolPolicy(config.toolsAllow, config.toolsDeny, config.toolScopes),
    // One memory for every process of this server command: the era is probed once, at the first start.
    era: {},
  };
}

/** Who this sidecar is in the mesh: its service id and the address others reach it at. */
export function instanceFor(config: Config, port: number): Instance {
  const advertiseHost =
    config.advertise?.host ?? (config.host === '0.0.0.0' || config.host === '::' ? hostname() : config.host);
  const advertisePort = config.advertise?.port ?? port;
  return {
    name: config.name,
    serviceId: config.serviceId ?? defaultServiceId(config.name, advertiseHost, advertisePort),
    advertiseHost,
    advertisePort,
    sessionMode: config.sessionMode,
    sidecarVersion: SIDECAR_VERSION,
  };
}

/** Host names the mesh reaches this sidecar by: the advertised host, and Kong's upstream when Kong is in use. */
export function ownHostNames(config: Config): string[] {
  const names: string[] = [];
  if (config.advertise) names.push(config.advertise.host);
  if (config.kong) names.push(kongEntityName(config.name));
  return names;
}

/** The server processes: one shared pool (--workers) or a process per session (isolated, --warm spares). */
export function poolFor(config: Config, options: WorkerOptions, log: Logger): WorkerPool {
  const policy = {
    minDelayMs: config.restartMinMs,
    maxDelayMs: config.restartMaxMs,
    crashLoopFailures: config.crashLoopRestarts,
    windowMs: config.crashLoopWindowMs,
  };
  return config.sessionMode === 'isolated'
    ? new IsolatedPool(config.warm, options, policy, log)
    : new SharedPool(config.workers, options, policy, log);
}
