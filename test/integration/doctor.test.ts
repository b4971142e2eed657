/**
 * `mcp-sidecar doctor`, run as operators run it (the built CLI), against real parts: a Consul dev agent (and one
 * enforcing ACLs), the Kong Admin API double that checks every request against Kong's OpenAPI document, real MCP
 * servers. It passes on a healthy set-up and leaves no probe behind; each broken part is named by its step.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { aclToken, freePort, startAclAgent, startConsulAgent, type ConsulAgent } from '../support/consul-agent.js';
import { secretFile } from '../support/harness.js';
import { KONG_VERSION, KongAdminDouble } from '../support/kong-admin-double.js';
import { everythingCommand, sidecarMain, sidecarNodeArgs } from '../support/sidecar-process.js';

interface DoctorRun {
  code: number | null;
  lines: string[];
  /** The line of the check titled `title` (its first line; the fix is on the next). */
  check(title: string): string;
  fix(title: string): string;
  stdout: string;
}

function doctor(args: string[], env: Record<string, string> = {}): Promise<DoctorRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...sidecarNodeArgs, sidecarMain, 'doctor', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout) => {
        const lines = stdout.split('\n');
        const index = (title: string) => {
          const i = lines.findIndex((l) => /^[✔✘-] /.test(l) && l.slice(2).startsWith(`${title}`));
          assert.notEqual(i, -1, `no check "${title}" in:\n${stdout}`);
          return i;
        };
        resolve({
          code: err ? ((err as { code?: number }).code ?? null) : 0,
          lines,
          stdout,
          check: (title) => lines[index(title)],
          fix: (title) => lines[index(title) + 1] ?? '',
        });
      },
    );
  });
}

let consul: ConsulAgent;
let kong: KongAdminDouble;
before(async () => {
  consul = await startConsulAgent();
  kong = await KongAdminDouble.start();
});
after(async () => {
  await consul?.stop();
  await kong?.stop();
});

async function healthyArgs(port: number): Promise<string[]> {
  return [
    '--name',
    'everything',
    '--port',
    String(port),
    '--advertise',
    `127.0.0.1:${port}`,
    '--consul',
    consul.url,
    '--kong-admin',
    kong.url,
    '--',
    ...everythingCommand(),
  ];
}

test('passes every check on a healthy set-up, and leaves no probe in Consul or Kong', async () => {
  const run = await doctor(await healthyArgs(await freePort()));
  assert.equal(run.code, 0, run.stdout);
  for (const title of [
    'MCP server',
    'port',
    'Consul agent',
    'Consul token',
    'Kong Admin API',
    'Kong entities',
    'advertised address',
  ])
    assert.match(run.check(title), /^✔ /, run.stdout);
  assert.match(run.check('MCP server'), /completed the handshake \(mcp-servers\/everything .*tools\); stopped it/);
  assert.match(run.check('Kong Admin API'), new RegExp(`Kong ${KONG_VERSION.replace(/\./g, '\\.')}`));
  assert.match(run.stdout, /all 7 checks passed/);
  const services = (await consul.get('/v1/agent/services')).body as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(services).filter((id) => id.includes('doctor')),
    [],
    'the Consul probe was deregistered',
  );
  assert.equal(kong.upstreams.size, 0, 'the Kong probe upstream was removed');
  const writes = kong.requests.filter((r) => r.method !== 'GET');
  assert.deepEqual(
    writes.map((r) => `${r.method} ${r.status}`),
    ['PUT 200', 'DELETE 204'],
  );
  assert.deepEqual(
    kong.requests.flatMap((r) => r.violations),
    [],
    "every request matched Kong's OpenAPI document",
  );
});

test('names a missing command', async () => {
  const run = await doctor(['--port', String(await freePort()), '--', 'mcp-server-that-is-not-installed']);
  assert.equal(run.code, 1);
  assert.match(run.check('MCP server'), /^✘ .*"mcp-server-that-is-not-installed" is not found on PATH/);
  assert.match(run.fix('MCP server'), /fix: install it, or put its full path after "--"/);
  assert.match(run.check('port'), /^✔ /);
});

test('names a port in use, and skips the advertised address that needs it', async () => {
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as { port: number };
  try {
    const run = await doctor(['--port', String(port), '--', ...everythingCommand()]);
    assert.equal(run.code, 1);
    assert.match(run.check('port'), new RegExp(`^✘ port: 127\\.0\\.0\\.1:${port} is in use`));
    assert.match(run.fix('port'), /choose another --port/);
    assert.match(run.check('advertised address'), /^- .*skipped: "port" failed/);
  } finally {
    busy.close();
  }
});

test('names Consul down, and skips the token check', async () => {
  const run = await doctor([
    '--port',
    String(await freePort()),
    '--consul',
    `http://127.0.0.1:${await freePort()}`,
    '--',
    ...everythingCommand(),
  ]);
  assert.equal(run.code, 1);
  assert.match(run.check('Consul agent'), /^✘ .*does not answer/);
  assert.match(run.fix('Consul agent'), /start the local Consul agent/);
  assert.match(run.check('Consul token'), /^- .*skipped: "Consul agent" failed/);
});

/** Doctor for "everything" against an ACL-enforcing agent, with a token of these rules; asserts no probe is left. */
async function doctorWithRules(t: TestContext, policyName: string, rules: string) {
  const acl = await startAclAgent();
  t.after(() => acl.stop());
  const token = await aclToken(acl, policyName, rules);
  const run = await doctor([
    '--name',
    'everything',
    '--port',
    String(await freePort()),
    '--consul',
    acl.url,
    '--consul-token-file',
    secretFile(t, token),
    '--',
    ...everythingCommand(),
  ]);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.check('Consul agent'), /^✔ /);
  const services = (await acl.get('/v1/agent/services')).body as Record<string, unknown>;
  assert.deepEqual(Object.keys(services), [], 'the probe was deregistered, even after a failed step');
  return run;
}

test('names a Consul token without rights on the service, and leaves no probe', async (t) => {
  const run = await doctorWithRules(t, 'other-service-only', 'service "other" { policy = "write" }');
  assert.match(
    run.check('Consul token'),
    /^✘ .*could not register probe everything-mcp-sidecar-doctor-[0-9a-f]+: .*403/,
  );
  assert.match(run.fix('Consul token'), /service "everything" \{ policy = "write" \}/);
});

test('names a Consul token that may register but not see the passing instances, and leaves no probe', async (t) => {
  // service:write alone: registration works, but Consul hides instances on nodes the token may not read.
  const run = await doctorWithRules(t, 'everything-no-node-read', 'service "everything" { policy = "write" }');
  assert.match(run.check('Consul token'), /^✘ .*is registered and passing, but GET \/v1\/health\/service\/everything/);
  assert.match(run.fix('Consul token'), /node_prefix "" \{ policy = "read" \}/);
});

test('names Kong down, and skips the entity check', async () => {
  const run = await doctor([
    '--port',
    String(await freePort()),
    '--kong-admin',
    `http://127.0.0.1:${await freePort()}`,
    '--',
    ...everythingCommand(),
  ]);
  assert.equal(run.code, 1);
  assert.match(run.check('Kong Admin API'), /^✘ .*does not answer/);
  assert.match(run.fix('Kong Admin API'), /start Kong, or point --kong-admin/);
  assert.match(run.check('Kong entities'), /^- .*skipped: "Kong Admin API" failed/);
});
