/**
 * A real Consul agent for tests: `consul agent -dev` on free loopback ports in a temp data dir, started from
 * the binary consul/install.sh finds or builds (once per test process). No fake of Consul exists in this repo:
 * what the publisher does is checked against the real agent's API.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distRoot, waitFor } from './sidecar-process.js';
import { freePort } from '../../scripts/mesh/free-port.js';

const installScript = join(distRoot, '..', 'consul', 'install.sh');
let binary: Promise<string> | undefined;

/** The consul binary (consul/install.sh: $CONSUL_BIN, PATH, cache, or a build; its last stdout line). */
export function consulBinary(): Promise<string> {
  binary ??= new Promise((resolve, reject) => {
    execFile('bash', [installScript], { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 }, (err, stdout, stderr) => {
      const path = stdout.trim().split('\n').pop();
      if (err || !path)
        reject(new Error(`consul/install.sh failed (${err?.message ?? 'no path printed'}):\n${stderr.slice(-3000)}`));
      else resolve(path);
    });
  });
  return binary;
}

// One free-port helper for the tests and the local mesh launcher.
export { freePort } from '../../scripts/mesh/free-port.js';

/**
 * The sidecar's /readyz as the agent's HTTP check sees it, for tests of the publisher alone: a plain 200 on
 * loopback (the real one is tested end to end).
 */
export async function startReadyzStub(): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** Four distinct free loopback ports for one agent (the kernel may hand out the same free port twice in a row). */
async function agentPorts(): Promise<{ http: number; serfLan: number; serfWan: number; server: number }> {
  const picked = new Set<number>();
  while (picked.size < 4) picked.add(await freePort());
  const [http, serfLan, serfWan, server] = [...picked];
  return { http, serfLan, serfWan, server };
}

export interface ConsulAgent {
  url: string;
  httpPort: number;
  /** Everything the agent printed (its log), for failure messages. */
  logs(): string;
  running(): boolean;
  /** GET; resolves with the status and the parsed JSON body (or undefined). */
  get(path: string): Promise<{ status: number; body: any }>;
  put(path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Kills the agent (SIGKILL unless told otherwise) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** A fresh `-dev` agent on the same ports, knowing nothing of the old one (as after an agent restart). */
  restart(): Promise<void>;
}

async function request(
  url: string,
  method: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers['x-consul-token'] = token;
  const res = await fetch(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/**
 * Starts a dev agent and resolves once it has elected itself leader (its API answers for the catalog).
 * `hcl` adds configuration (e.g. ACLs); `token` is then sent with the helper's own get/put calls.
 */
export async function startConsulAgent(
  opts: { readyTimeoutMs?: number; hcl?: string; token?: string } = {},
): Promise<ConsulAgent> {
  const bin = await consulBinary();
  let ports = await agentPorts();
  let url = `http://127.0.0.1:${ports.http}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let dataDir: string | undefined;
  let output = '';

  const launch = async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mcp-sidecar-consul-'));
    const args = [
      'agent',
      '-dev',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-http-port=${ports.http}`,
      '-dns-port=-1',
      '-grpc-port=-1',
      '-grpc-tls-port=-1',
      `-serf-lan-port=${ports.serfLan}`,
      `-serf-wan-port=${ports.serfWan}`,
      `-server-port=${ports.server}`,
      `-data-dir=${dataDir}`,
      `-node=test-${ports.http}`,
      '-log-level=warn',
      ...(opts.hcl ? ['-hcl', opts.hcl] : []),
    ];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = child;
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 1_000_000) output = output.slice(-500_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const outcome = await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        const leader = await request(`${url}/v1/status/leader`, 'GET'); // throws while the agent is not listening yet
        return leader.status === 200 && typeof leader.body === 'string' && leader.body !== '' ? 'leader' : undefined;
      },
      opts.readyTimeoutMs ?? 30_000,
      'a leader',
      100,
    ).catch(() => 'timed out');
    if (outcome === 'leader') return;
    child.kill('SIGKILL');
    await exited;
    const what =
      outcome === 'exited'
        ? 'exited before it elected a leader'
        : `did not elect a leader within ${opts.readyTimeoutMs ?? 30_000} ms`;
    throw new Error(`consul agent on ${url} ${what} (${bin} ${args.join(' ')}):\n${output.slice(-3000)}`);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const timer = setTimeout(() => proc?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  };

  // A port found free can be taken by another process (a sidecar, another test file's agent) before the agent
  // binds it: the agent then exits at once ("address already in use"). An agent that exits before its election
  // is started again on new ports, twice at most; restart() keeps its ports, as a real agent restart does.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt === 3 || !/exited before it elected a leader/.test((err as Error).message)) throw err;
      output = '';
      ports = await agentPorts();
      url = `http://127.0.0.1:${ports.http}`;
    }
  }
  return {
    url,
    httpPort: ports.http,
    logs: () => output,
    running: () => !!proc && proc.exitCode === null && proc.signalCode === null,
    get: (path) => request(`${url}${path}`, 'GET', undefined, opts.token),
    put: (path, body) => request(`${url}${path}`, 'PUT', body, opts.token),
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}

/** The management token of startAclAgent's agents (a test-only agent on loopback; never a real secret). */
export const ACL_ROOT_TOKEN = 'root-token-for-the-acl-tests-only';

/**
 * A dev agent that enforces ACLs as production does (`default_policy = "deny"`), bootstrapped with a
 * management token that the helper's own get/put calls send. Resolves once the ACL system answers.
 */
export async function startAclAgent(): Promise<ConsulAgent> {
  const consul = await startConsulAgent({
    hcl: `acl { enabled = true\ndefault_policy = "deny"\ntokens { initial_management = "${ACL_ROOT_TOKEN}"\nagent = "${ACL_ROOT_TOKEN}" } }`,
    token: ACL_ROOT_TOKEN,
  });
  // ACLs are bootstrapped by the leader shortly after the election.
  await waitFor(async () => (await consul.get('/v1/acl/policies')).status === 200, 15_000, 'the ACL system to answer');
  return consul;
}

/** consul/sidecar-policy.hcl, as an operator adapts it: for the service `name`. */
export function sidecarPolicyRules(name: string): string {
  const rules = readFileSync(join(distRoot, '..', 'consul', 'sidecar-policy.hcl'), 'utf8');
  return rules.replace(/service "[^"]+"/, `service "${name}"`);
}

/** A policy with `rules` and a token of it, made with the management token; resolves with the token's SecretID. */
export async function aclToken(consul: ConsulAgent, policyName: string, rules: string): Promise<string> {
  const policy = await consul.put('/v1/acl/policy', { Name: policyName, Rules: rules });
  if (policy.status !== 200) throw new Error(`creating ACL policy ${policyName}: ${JSON.stringify(policy.body)}`);
  const token = await consul.put('/v1/acl/token', { Description: policyName, Policies: [{ Name: policyName }] });
  if (token.status !== 200) throw new Error(`creating a token of ${policyName}: ${JSON.stringify(token.body)}`);
  return token.body.SecretID as string;
}

export interface PrivateCa {
  dir: string;
  /** PEM of the CA, what --consul-ca-file / --kong-ca-file name. */
  ca: string;
  /** A server certificate and key it signed, valid for 127.0.0.1 and localhost. */
  cert: string;
  key: string;
  remove(): Promise<void>;
}

/** A private CA and a server certificate for loopback, made by the Consul binary (`consul tls ca|cert create`). */
export async function privateCa(): Promise<PrivateCa> {
  const bin = await consulBinary();
  const dir = await mkdtemp(join(tmpdir(), 'mcp-sidecar-ca-'));
  const run = promisify(execFile);
  await run(bin, ['tls', 'ca', 'create'], { cwd: dir });
  await run(bin, ['tls', 'cert', 'create', '-server', '-dc', 'dc1'], { cwd: dir }); // SANs include 127.0.0.1
  const read = (file: string) => readFile(join(dir, file), 'utf8');
  return {
    dir,
    ca: await read('consul-agent-ca.pem'),
    cert: await read('dc1-server-consul-0.pem'),
    key: await read('dc1-server-consul-0-key.pem'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
