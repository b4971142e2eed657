/**
 * What the benchmark compares, all in front of the same server-everything over stdio:
 * (a) the server's stdio itself (the limit), (b) this sidecar under legacy sessions and (c) under stateless
 * MCP 2026-07-28 requests, (d) supergateway 4 in stateful Streamable HTTP mode, (e) mcp-proxy 6 in Streamable
 * HTTP mode; and beside them (f) a bare node:http server with nothing behind it, the floor of any bridge built
 * on Node's HTTP server. Each knows how to start itself, when it is ready to serve, and which process is the
 * root of its tree (for CPU and memory).
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binLineFlags } from '../sidecar/bin-line.js';
import { BridgeProcess, freePort } from './bridge-process.js';
import { StdioMcpClient } from './stdio-client.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file compiles to dist/bench/). */
export const repoRoot = join(here, '..', '..');
const require = createRequire(import.meta.url);

const START_TIMEOUT_MS = 20_000;

export function everythingCommand(): string[] {
  return [process.execPath, require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
}

export interface StartedTarget {
  process: BridgeProcess;
  /**
   * True when the root process is the HTTP face (a bridge in front of the server, or the node:http floor) and
   * its descendants are the servers; false for the server's own stdio.
   */
  bridged: boolean;
  /** Streamable HTTP endpoint, for bridges. */
  mcpUrl?: URL;
  /** Drive it with stateless MCP 2026-07-28 requests (stateless-client.ts) instead of sessions. */
  stateless?: boolean;
  /** The in-process client of the direct stdio target. */
  stdio?: StdioMcpClient;
}

export interface Target {
  id: string;
  label: string;
  start(): Promise<StartedTarget>;
}

/** Starts `proc`, runs `ready`, and on any failure stops the tree before rethrowing. */
async function started(
  proc: BridgeProcess,
  ready: () => Promise<Omit<StartedTarget, 'process'>>,
): Promise<StartedTarget> {
  try {
    return { process: proc, ...(await ready()) };
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
}

async function httpOk(url: string, expectBody?: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const body = await res.text();
  return res.status === 200 && (expectBody === undefined || body.trim() === expectBody);
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const stdioTarget: Target = {
  id: 'stdio',
  label: 'server stdio (limit)',
  start() {
    const [command, ...args] = everythingCommand();
    const proc = new BridgeProcess(command, args, { stdin: 'pipe' });
    return started(proc, async () => {
      const stdio = new StdioMcpClient(proc.proc, 10_000);
      await Promise.race([
        stdio.open(),
        proc.exited.then(() => Promise.reject(new Error(`exited during initialize: ${proc.describeExit()}`))),
      ]);
      return { bridged: false, stdio };
    });
  },
};

export function sidecarTarget(
  id = 'sidecar',
  label = 'mcp-sidecar',
  extraArgs: string[] = [],
  stateless = false,
  env: () => Promise<NodeJS.ProcessEnv> = async () => process.env,
  main = join(repoRoot, 'dist', 'sidecar', 'main.js'),
): Target {
  return {
    id,
    label,
    async start() {
      if (!existsSync(main)) throw new Error(`${main} is missing (the build did not produce the sidecar)`);
      // BENCH_SIDECAR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the sidecar under the benchmark's load
      // (the profile is written when it exits; summarize it with dist/bench/profile-summary.js).
      const nodeArgs = [
        ...binLineFlags(main),
        ...(process.env.BENCH_SIDECAR_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ];
      const proc = new BridgeProcess(
        process.execPath,
        [...nodeArgs, main, '--port', '0', '--log-level', 'warn', ...extraArgs, '--', ...everythingCommand()],
        { env: await env() },
      );
      return started(proc, async () => {
        const match = await proc.waitForStdout(/mcp-sidecar: serving \S+ at (http:\/\/[^ ]+)/, START_TIMEOUT_MS);
        const base = match[1];
        await proc.waitUntil(() => httpOk(`${base}/readyz`), START_TIMEOUT_MS, 'ready (GET /readyz 200)');
        return { bridged: true, mcpUrl: new URL('/mcp', base), stateless };
      });
    },
  };
}

/**
 * The sidecar with tracing on, every call sampled, exporting to an OTLP/HTTP sink in the benchmark's own process
 * (it reads each body and answers 200, so the sidecar pays for its spans and their export, never for a collector).
 */
export const sidecarTracedTarget = sidecarTarget(
  'sidecar-traced',
  'mcp-sidecar, tracing on (OTLP)',
  [],
  false,
  async () => {
    const sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    sink.unref();
    const { port } = sink.address() as AddressInfo;
    return {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_TRACES_SAMPLER: 'always_on',
    };
  },
);

export const supergatewayTarget: Target = {
  id: 'supergateway',
  label: 'supergateway 4.0.0',
  async start() {
    const port = await freePort();
    const entry = join(repoRoot, 'node_modules', 'supergateway', 'dist', 'index.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing`);
    // Stateful mode spawns one server child per session (that is how supergateway keeps sessions apart).
    // --logLevel none: its info level logs every message, and the sidecar runs at warn.
    const proc = new BridgeProcess(process.execPath, [
      entry,
      '--stdio',
      everythingCommand().map(shellQuote).join(' '),
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      '--healthEndpoint',
      '/healthz',
      '--logLevel',
      'none',
    ]);
    return started(proc, async () => {
      await proc.waitUntil(
        () => httpOk(`http://127.0.0.1:${port}/healthz`, 'ok'),
        START_TIMEOUT_MS,
        'listening (GET /healthz "ok")',
      );
      return { bridged: true, mcpUrl: new URL(`http://127.0.0.1:${port}/mcp`) };
    });
  },
};

export const mcpProxyTarget: Target = {
  id: 'mcp-proxy',
  label: 'mcp-proxy 6.7.19',
  async start() {
    const port = await freePort();
    // mcp-proxy needs Node >= 22 (a dependency of it does); the node@22 dev dependency provides one.
    const node22 = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
    const entry = join(repoRoot, 'node_modules', 'mcp-proxy', 'dist', 'bin', 'mcp-proxy.mjs');
    for (const file of [node22, entry]) if (!existsSync(file)) throw new Error(`${file} is missing`);
    const proc = new BridgeProcess(node22, [
      entry,
      '--server',
      'stream',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--',
      ...everythingCommand(),
    ]);
    return started(proc, async () => {
      await proc.waitUntil(
        () => httpOk(`http://127.0.0.1:${port}/ping`),
        START_TIMEOUT_MS,
        'listening (GET /ping 200)',
      );
      return { bridged: true, mcpUrl: new URL(`http://127.0.0.1:${port}/mcp`) };
    });
  },
};

/**
 * Not a bridge: a bare node:http server that answers each call at once (null-responder.ts). Its row is the floor
 * of any bridge on Node's HTTP server under this client, and the most the client can push on this machine.
 */
export const nodeHttpFloorTarget: Target = {
  id: 'node-http-floor',
  label: 'node:http floor (no MCP server)',
  start() {
    // the sidecar's Node flags, so that the floor differs from the sidecar only in what the sidecar does
    const flags = binLineFlags(join(repoRoot, 'dist', 'sidecar', 'main.js'));
    const proc = new BridgeProcess(process.execPath, [...flags, join(here, 'null-responder.js')]);
    return started(proc, async () => {
      const match = await proc.waitForStdout(/listening (\d+)/, START_TIMEOUT_MS);
      return { bridged: true, mcpUrl: new URL(`http://127.0.0.1:${match[1]}/mcp`) };
    });
  },
};
