/** Configuration: flags, MCP_SIDECAR_* environment, defaults, and the errors a mistyped flag gets. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { binLineFlags } from '../../sidecar/bin-line.js';
import { deriveName, parseConfig } from '../../sidecar/config.js';
import { ConfigError, parseBytes, parseDuration } from '../../sidecar/options/validate.js';
import { distRoot, sidecarMain } from '../support/sidecar-process.js';

const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};

test('durations and sizes in the units operators write', () => {
  assert.equal(parseDuration('500ms', 'x'), 500);
  assert.equal(parseDuration('10s', 'x'), 10_000);
  assert.equal(parseDuration('1m', 'x'), 60_000);
  assert.equal(parseDuration('1.5s', 'x'), 1500);
  assert.equal(parseDuration('250', 'x'), 250);
  assert.throws(() => parseDuration('ten', '--ping-interval'), /--ping-interval: "ten" is not a duration/);
  assert.equal(parseBytes('4mb', 'x'), 4 * 1024 * 1024);
  assert.equal(parseBytes('512KB', 'x'), 512 * 1024);
  assert.equal(parseBytes('100', 'x'), 100);
  assert.throws(() => parseBytes('lots', '--max-body'), /--max-body: "lots" is not a size/);
});

test('defaults, then flags, with the server command after --', () => {
  const c = parseConfig(
    ['--port', '0', '--ping-interval', '200ms', '--max-body=1kb', '--', 'node', 'server.js', '--flag'],
    {},
    noFile,
  );
  assert.equal(c.port, 0);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.pingIntervalMs, 200);
  assert.equal(c.maxBodyBytes, 1024);
  assert.equal(c.requestTimeoutMs, 60_000);
  assert.equal(c.crashLoopRestarts, 5);
  assert.equal(c.sessionMode, 'shared');
  assert.equal(c.command, 'node');
  assert.deepEqual(c.args, ['server.js', '--flag'], 'flags after -- belong to the server');
  assert.equal(c.name, 'server');
});

test('MCP_SIDECAR_* environment fills in, flags win over it', () => {
  const env = {
    MCP_SIDECAR_PING_INTERVAL: '3s',
    MCP_SIDECAR_REQUEST_TIMEOUT: '2s',
    MCP_SIDECAR_ALLOWED_HOSTS: 'a.example, b.example',
  };
  const c = parseConfig(['--request-timeout', '5s', '--', 'x'], env, noFile);
  assert.equal(c.pingIntervalMs, 3000);
  assert.equal(c.requestTimeoutMs, 5000);
  assert.deepEqual(c.allowedHosts, ['a.example', 'b.example']);
});

test('repeatable --env KEY=VAL and --pass-env; booleans; session mode', () => {
  const c = parseConfig(
    [
      '--env',
      'A=1',
      '--env',
      'B=x=y',
      '--pass-env',
      'TOKEN',
      '--exit-on-failure',
      '--session-mode',
      'isolated',
      '--warm',
      '2',
      '--',
      'x',
    ],
    {},
    noFile,
  );
  assert.deepEqual(c.env, { A: '1', B: 'x=y' });
  assert.deepEqual(c.passEnv, ['TOKEN']);
  assert.equal(c.exitOnFailure, true);
  assert.equal(c.sessionMode, 'isolated');
  assert.equal(c.warm, 2);
  assert.equal(
    parseConfig(['--no-exit-on-failure', '--', 'x'], { MCP_SIDECAR_EXIT_ON_FAILURE: 'true' }, noFile).exitOnFailure,
    false,
  );
});

test('mistakes get a message that says what to change', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--pot', '1'], /unknown option --pot/],
    [['server.js'], /put the MCP server command after "--"/],
    [['--port'], /--port needs a value/],
    [['--port', '99999'], /not a TCP port/],
    [['--session-mode', 'pooled'], /not one of shared, isolated/],
    [['--env', 'NOEQUALS'], /use KEY=VALUE/],
    [['--workers', '0'], /--workers must be at least 1/],
    [['--name', 'has space'], /--name "has space"/],
    [['--consul', 'http://127.0.0.1:8500', '--deregister-after', '10s'], /minimum is 1m/],
    [['--advertise', '10.0.0.5:70000'], /--advertise "10.0.0.5:70000": use host:port with a port from 1 to 65535/],
    [['--allowed-hosts', 'a,,b'], /empty item in the list/],
    [['--kong-admin', 'ftp://kong'], /--kong-admin "ftp:\/\/kong": use an http:\/\/ or https:\/\/ URL/],
    [
      ['--consul', 'consul:8500', '--consul-ca-file', '/nowhere/ca.pem'],
      /--consul-ca-file \/nowhere\/ca.pem: cannot read it/,
    ],
    [['--kong-admin', 'http://kong:8001', '--kong-route-path', '/a b'], /--kong-route-path "\/a b": use a URL path/],
    [['--name', '--port', '1'], /--name needs a value/],
    [['--state-key-file', '/nowhere/key'], /--state-key-file \/nowhere\/key: cannot read it/],
  ];
  for (const [argv, message] of bad)
    assert.throws(
      () => parseConfig(argv, {}, noFile),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
      argv.join(' '),
    );
});

test('Consul and Kong groups: the ecosystem env names, token and CA files, a derived check TTL', () => {
  const files: Record<string, string> = { '/run/token': 'secret\n', '/run/ca.pem': '-----BEGIN CERTIFICATE-----\nx\n' };
  const readFile = (path: string) => files[path] ?? noFile(path);
  const env = { CONSUL_HTTP_ADDR: 'consul:8500', CONSUL_HTTP_TOKEN: 'from-env', CONSUL_CACERT: '/run/ca.pem' };
  const c = parseConfig(
    ['--ping-interval', '2s', '--tag', 'a,b', '--kong-admin', 'kong:8001/', '--', 'x'],
    env,
    readFile,
  );
  assert.deepEqual(c.consul, {
    url: 'http://consul:8500',
    token: 'from-env',
    ca: files['/run/ca.pem'],
    deregisterAfterMs: 60_000,
    checkTtlMs: 6000,
    tags: ['a,b'],
  });
  assert.deepEqual(c.kong, { adminUrl: 'http://kong:8001', routePath: undefined });
  const fromFile = parseConfig(
    ['--consul', 'https://consul:8501', '--consul-token-file', '/run/token', '--check-ttl', '5s', '--', 'x'],
    env,
    readFile,
  );
  assert.equal(fromFile.consul?.url, 'https://consul:8501', 'the flag wins over CONSUL_HTTP_ADDR');
  assert.equal(fromFile.consul?.token, 'secret', 'the token file wins over CONSUL_HTTP_TOKEN');
  assert.equal(fromFile.consul?.checkTtlMs, 5000);
  const bare = parseConfig(['--advertise', '[fd00::5]:9000', '--', 'x'], {}, noFile);
  assert.equal(bare.consul, undefined);
  assert.equal(bare.kong, undefined);
  assert.deepEqual(bare.advertise, { host: '[fd00::5]', port: 9000 });
});

test('service names derive from the package or script the command runs', () => {
  assert.equal(deriveName(['npx', '-y', '@modelcontextprotocol/server-memory']), 'server-memory');
  assert.equal(
    deriveName(['node', '/app/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', '/tmp']),
    'server-filesystem',
  );
  assert.equal(deriveName(['python3', 'weather_server.py']), 'weather-server');
  assert.equal(deriveName(['/usr/local/bin/my-mcp']), 'my-mcp');
});

test('the CLI: a bad flag exits 2 with the message, --help lists every option with its environment name', () => {
  const bad = spawnSync(process.execPath, [sidecarMain, '--bogus'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
  const help = spawnSync(process.execPath, [sidecarMain, '--help'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(help.status, 0);
  for (const flag of ['--ping-interval', '--max-body', '--crash-loop-restarts', '--session-idle', '--allowed-origins'])
    assert.ok(help.stdout.includes(flag), flag);
  assert.match(help.stdout, /MCP_SIDECAR_PING_INTERVAL/);
  assert.match(
    help.stdout,
    /--consul <url> +Consul agent address \(enables registration\)\s+\(env MCP_SIDECAR_CONSUL or CONSUL_HTTP_ADDR\)/,
  );
  const short = spawnSync(process.execPath, [sidecarMain, '-h'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(short.status, 0);
  assert.equal(short.stdout, help.stdout);
});

test('the Node flags of the bin line: the Node under test accepts them, and npm start names the same ones', () => {
  const flags = binLineFlags(sidecarMain);
  assert.ok(
    flags.includes('--max-semi-space-size=1') && flags.includes('--no-allocation-site-pretenuring'),
    `${flags}`,
  );
  const run = spawnSync(process.execPath, [...flags, sidecarMain, '--help'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(run.status, 0, run.stderr);
  const pkg = JSON.parse(readFileSync(join(distRoot, '..', 'package.json'), 'utf8')) as { scripts: { start: string } };
  assert.match(pkg.scripts.start, new RegExp(`node[^ ]*"? ${flags.join(' ')} dist/sidecar/main\\.js$`));
});

test('--state-key-file: the key as written (a trailing newline is not part of it), and at least 32 bytes', () => {
  const files: Record<string, string> = { '/run/key': `${'k'.repeat(32)}\n`, '/run/short': 'secret\n' };
  const readFile = (path: string) => files[path] ?? noFile(path);
  assert.deepEqual(
    parseConfig(['--state-key-file', '/run/key', '--', 'x'], {}, readFile).stateKey,
    Buffer.from('k'.repeat(32)),
  );
  assert.equal(parseConfig(['--', 'x'], {}, readFile).stateKey, undefined, 'none given: a random key per process');
  assert.throws(
    () => parseConfig(['--state-key-file', '/run/short', '--', 'x'], {}, readFile),
    /--state-key-file \/run\/short: 6 bytes is too short a key; write 32 or more/,
  );
});
