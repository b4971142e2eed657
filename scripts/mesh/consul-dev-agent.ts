/**
 * The Consul of the local mesh: a `-dev` agent with its UI, on loopback, from the binary consul/install.sh finds
 * or builds (CONSUL_BIN, PATH, the cache, or a build from the Go module proxy the first time). The build takes
 * minutes, so its progress goes straight to the operator's terminal.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { MeshProcess, describeExit } from './mesh-process.js';

/** Resolves with the consul binary: install.sh's last stdout line. Its stderr (progress) goes to ours. */
export function consulBinary(repoRoot: string, onStart: (stop: () => void) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const install = spawn('bash', [join(repoRoot, 'consul', 'install.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
    onStart(() => install.kill('SIGTERM'));
    let stdout = '';
    install.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    install.once('error', (err) => reject(new Error(`cannot run consul/install.sh: ${err.message}`)));
    install.once('exit', (code, signal) => {
      const path = stdout.trim().split('\n').pop();
      if (code === 0 && path) return resolve(path);
      reject(
        new Error(
          `consul/install.sh ${describeExit({ code, signal })} (its messages are above); set CONSUL_BIN to a consul binary to skip the build`,
        ),
      );
    });
  });
}

/**
 * Starts `consul agent -dev -ui` with its HTTP API (and UI) on 127.0.0.1:`httpPort`; everything it keeps is in
 * memory (-dev without a data dir), so nothing is left on disk when it stops.
 */
export async function startConsulDevAgent(bin: string, httpPort: number, logFile: string): Promise<MeshProcess> {
  // The agent's internal ports: nobody outside the agent needs to know them.
  const ports = new Set<number>([httpPort]);
  while (ports.size < 4) ports.add(await freePort());
  const [, serfLan, serfWan, server] = [...ports];
  const args = [
    'agent',
    '-dev',
    '-ui',
    '-bind=127.0.0.1',
    '-client=127.0.0.1',
    `-http-port=${httpPort}`,
    '-dns-port=-1',
    '-grpc-port=-1',
    '-grpc-tls-port=-1',
    `-serf-lan-port=${serfLan}`,
    `-serf-wan-port=${serfWan}`,
    `-server-port=${server}`,
    '-node=local-mesh',
    '-log-level=warn',
  ];
  return new MeshProcess('Consul agent', bin, args, logFile);
}

/** Resolves once the agent has a leader (its catalog answers); fails when it exits first or `timeoutMs` passes. */
export async function waitForLeader(agent: MeshProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!agent.running())
      throw new Error(`the Consul agent ${describeExit(await agent.exited)} before it had a leader`);
    try {
      const res = await fetch(`${url}/v1/status/leader`, { signal: AbortSignal.timeout(2000) });
      const leader = (await res.json()) as unknown;
      if (res.ok && typeof leader === 'string' && leader !== '') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Consul agent at ${url} had no leader within ${timeoutMs / 1000} s`);
}
