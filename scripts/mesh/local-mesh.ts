/**
 * `npm run mesh`: the local mesh without Docker. A Consul dev agent with its UI, then a sidecar for each of
 * server-everything, server-filesystem (on a fresh temporary folder) and server-memory, each registered with its
 * checks; Ctrl-C or SIGTERM stops the sidecars first (so they deregister while Consul still runs), then Consul.
 * Kong is not part of it: no Kong runs without Docker here (`docker compose up` is the mesh with Kong).
 *
 * Options (flag, then environment): --consul-port (MCP_MESH_CONSUL_PORT, 8500), --port (MCP_MESH_PORT, 8081: the
 * first sidecar's port, the others the next ones; 0 = free ports), --ping-interval (MCP_MESH_PING_INTERVAL, 2s).
 * CONSUL_BIN names a consul binary to use instead of consul/install.sh's search and build.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { consulBinary, startConsulDevAgent, waitForLeader } from './consul-dev-agent.js';
import { describeExit, type MeshProcess } from './mesh-process.js';
import { meshServers } from './mesh-servers.js';
import { sidecarUrl, startMeshSidecar, waitForPassing, type RunningMeshSidecar } from './mesh-sidecar.js';

/** dist/ (this file compiles to dist/scripts/mesh/) and the repository above it. */
const distRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoRoot = join(distRoot, '..');

const say = (line: string) => process.stdout.write(`mesh: ${line}\n`);

interface MeshOptions {
  consulPort: number;
  port: number;
  pingInterval: string;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): MeshOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'consul-port': { type: 'string' },
      port: { type: 'string' },
      'ping-interval': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return undefined;
  const port = (flag: string, text: string) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 65535) throw new Error(`--${flag} must be a port number (0-65535), got "${text}"`);
    return n;
  };
  return {
    consulPort: port('consul-port', values['consul-port'] ?? env.MCP_MESH_CONSUL_PORT ?? '8500'),
    port: port('port', values.port ?? env.MCP_MESH_PORT ?? '8081'),
    pingInterval: values['ping-interval'] ?? env.MCP_MESH_PING_INTERVAL ?? '2s',
  };
}

class LocalMesh {
  private consul: MeshProcess | undefined;
  private readonly sidecars: RunningMeshSidecar[] = [];
  private readonly starting: MeshProcess[] = [];
  private stopInstall: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private workDir = '';

  constructor(private readonly options: MeshOptions) {}

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  async start(): Promise<void> {
    const { options } = this;
    this.workDir = await mkdtemp(join(tmpdir(), 'mcp-sidecar-mesh-'));
    const filesRoot = join(this.workDir, 'files');
    await mkdir(filesRoot);
    say(`logs and the filesystem server's folder: ${this.workDir}`);
    say('finding the Consul binary (consul/install.sh; the first time it builds Consul, which takes minutes)');
    const bin = await consulBinary(repoRoot, (stop) => (this.stopInstall = stop));
    this.stopInstall = undefined;
    if (this.stopping) return;
    const consulUrl = `http://127.0.0.1:${options.consulPort}`;
    this.consul = await startConsulDevAgent(bin, options.consulPort, join(this.workDir, 'consul.log'));
    this.watch(this.consul);
    await waitForLeader(this.consul, consulUrl, 30_000);
    say(`Consul dev agent ready at ${consulUrl}`);

    const servers = meshServers(filesRoot, join(this.workDir, 'memory.jsonl'));
    for (const [i, server] of servers.entries()) {
      if (this.stopping) return;
      const proc = startMeshSidecar(distRoot, server, {
        port: options.port === 0 ? 0 : options.port + i,
        consulUrl,
        pingInterval: options.pingInterval,
        logFile: join(this.workDir, `${server.name}.log`),
      });
      this.starting.push(proc);
      this.watch(proc);
      const url = await sidecarUrl(proc, 30_000);
      const { hostname, port } = new URL(url);
      this.sidecars.push({ server, process: proc, url, serviceId: `${server.name}-${hostname}-${port}` });
    }
    for (const sidecar of this.sidecars) await waitForPassing(consulUrl, sidecar, 60_000);
    if (this.stopping) return;

    say('up: every service is registered in Consul with its checks passing');
    process.stdout.write(`\n  Consul UI    ${consulUrl}/ui/\n`);
    for (const { server, url } of this.sidecars) {
      const note = server.name === 'filesystem' ? `   (serves ${filesRoot})` : '';
      process.stdout.write(
        `  ${server.name.padEnd(12)} ${url}/   (status page; MCP ${url}/mcp, REST ${url}/tools)${note}\n`,
      );
    }
    process.stdout.write('\nCtrl-C stops everything: the sidecars first (they deregister), then Consul.\n');
  }

  /** A mesh process that ends while the mesh runs takes the mesh down: half a mesh would mislead. */
  private watch(proc: MeshProcess): void {
    void proc.exited.then(async (exit) => {
      if (this.stopping) return;
      const tail = (await readFile(proc.logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-5);
      say(`${proc.label} ${describeExit(exit)} unexpectedly; the end of its log (${proc.logFile}):`);
      for (const line of tail) process.stdout.write(`  ${line}\n`);
      void this.stop('a process of the mesh ended', 1);
    });
  }

  /** The safe order: every sidecar (deregistering, stopping its server), then Consul. Bounded in time. */
  stop(why: string, exitCode = 0): Promise<void> {
    this.stopping ??= (async () => {
      say(`stopping (${why}): sidecars first, then Consul`);
      this.stopInstall?.();
      const results = await Promise.all(this.starting.map(async (p) => ({ p, exit: await p.stop(20_000) })));
      for (const { p, exit } of results)
        say(`${p.label} ${exit.killed ? 'did not stop in 20 s and was killed' : 'stopped'}`);
      if (this.consul) {
        say(await this.leftInConsul());
        const exit = await this.consul.stop(10_000);
        say(`Consul agent ${exit.killed ? 'did not stop in 10 s and was killed' : 'stopped'}`);
      }
      // Logs are kept when something went wrong: they are what tells why.
      if (exitCode === 0 && this.workDir) await rm(this.workDir, { recursive: true, force: true });
      else if (this.workDir) say(`logs kept in ${this.workDir}`);
      process.exitCode = exitCode;
    })();
    return this.stopping;
  }

  /** Asked while Consul still runs: which of the mesh's instances the agent lists once their sidecars stopped. */
  private async leftInConsul(): Promise<string> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.options.consulPort}/v1/agent/services`, {
        signal: AbortSignal.timeout(2000),
      });
      const listed = Object.keys((await res.json()) as Record<string, unknown>);
      const left = this.sidecars.map((s) => s.serviceId).filter((id) => listed.includes(id));
      return left.length === 0
        ? 'every sidecar deregistered from Consul'
        : `Consul still lists ${left.join(', ')}: a sidecar did not deregister (its log says why)`;
    } catch (err) {
      return `could not ask Consul what is still registered: ${(err as Error).message}`;
    }
  }
}

async function main(): Promise<void> {
  let options: MeshOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`mesh: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  if (!options) {
    process.stdout.write(
      'npm run mesh [-- --consul-port 8500] [--port 8081] [--ping-interval 2s]\n' +
        'Consul dev agent (UI at /ui/) and sidecars for server-everything, -filesystem and -memory on 127.0.0.1.\n' +
        'Environment: MCP_MESH_CONSUL_PORT, MCP_MESH_PORT, MCP_MESH_PING_INTERVAL; CONSUL_BIN to use a consul binary.\n',
    );
    return;
  }
  const mesh = new LocalMesh(options);
  // npm forwards the terminal's SIGINT to us as well, so one Ctrl-C may arrive twice: every stop is bounded anyway.
  const onSignal = (signal: NodeJS.Signals) => void mesh.stop(signal).then(() => process.exit());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await mesh.start();
  } catch (err) {
    // A stop asked for during the start makes the steps still waiting fail: that is no failure to report.
    if (mesh.isStopping) return;
    say(`cannot start the mesh: ${(err as Error).message}`);
    await mesh.stop('start failed', 1);
  }
}

void main();
