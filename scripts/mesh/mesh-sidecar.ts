/**
 * A sidecar of the local mesh: the real `dist/sidecar/main.js` (as operators run it, with the Node flags of its
 * bin line) in front of one MCP server, registering with the mesh's Consul agent.
 */
import { join } from 'node:path';
import { binLineFlags } from '../../sidecar/bin-line.js';
import { MeshProcess, describeExit } from './mesh-process.js';
import type { MeshServer } from './mesh-servers.js';

export interface RunningMeshSidecar {
  server: MeshServer;
  process: MeshProcess;
  url: string;
  /** The instance's ID in Consul (the sidecar's default, `<name>-<host>-<port>`). */
  serviceId: string;
}

export function startMeshSidecar(
  distRoot: string,
  server: MeshServer,
  opts: { port: number; consulUrl: string; pingInterval: string; logFile: string },
): MeshProcess {
  const main = join(distRoot, 'sidecar', 'main.js');
  const args = [
    ...binLineFlags(main),
    main,
    '--name',
    server.name,
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--consul',
    opts.consulUrl,
    '--ping-interval',
    opts.pingInterval,
    ...server.sidecarArgs,
    '--',
    ...server.command,
  ];
  return new MeshProcess(`sidecar ${server.name}`, process.execPath, args, opts.logFile);
}

/** Resolves with the URL the sidecar prints once it listens (its first stdout line). */
export async function sidecarUrl(sidecar: MeshProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /serving \S+ at (http:\/\/\S+)/.exec(sidecar.stdout());
    if (match) return match[1];
    if (!sidecar.running())
      throw new Error(`${sidecar.label} ${describeExit(await sidecar.exited)} before it listened`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${sidecar.label} did not say where it listens within ${timeoutMs / 1000} s`);
}

/** Resolves once Consul lists the instance with every check (MCP ping, sidecar /readyz) passing. */
export async function waitForPassing(consulUrl: string, sidecar: RunningMeshSidecar, timeoutMs: number): Promise<void> {
  const filter = encodeURIComponent(`ServiceID == "${sidecar.serviceId}"`);
  const deadline = Date.now() + timeoutMs;
  let last = 'not registered yet';
  while (Date.now() < deadline) {
    if (!sidecar.process.running())
      throw new Error(`${sidecar.process.label} ${describeExit(await sidecar.process.exited)}`);
    try {
      const res = await fetch(`${consulUrl}/v1/agent/checks?filter=${filter}`, { signal: AbortSignal.timeout(2000) });
      const checks = Object.values((await res.json()) as Record<string, { Name: string; Status: string }>);
      if (checks.length >= 2 && checks.every((c) => c.Status === 'passing')) return;
      if (checks.length > 0) last = checks.map((c) => `${c.Name}: ${c.Status}`).join(', ');
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${sidecar.serviceId} was not passing in Consul within ${timeoutMs / 1000} s (${last})`);
}
