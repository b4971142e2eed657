/**
 * Start the MCP server once, complete the handshake (initialize and every list), stop it and its process group,
 * and keep the profile: what `mcp-sidecar openapi` and `kong-config --per-tool-routes` need from a server they
 * do not serve. The sidecar's own worker code, so the profile is exactly what a run would publish.
 */
import type { Logger } from '../log.js';
import type { ServerProfile } from './profile.js';
import { Worker, type WorkerOptions } from './worker.js';

export async function handshakeOnce(
  options: WorkerOptions,
  log: Logger,
  stopTimeoutMs: number,
): Promise<ServerProfile> {
  const worker = new Worker(options, log);
  try {
    await worker.ready();
    return worker.profile;
  } finally {
    await worker.stop({ stdinGraceMs: stopTimeoutMs, termGraceMs: stopTimeoutMs });
  }
}
