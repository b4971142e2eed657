/** Secure by default: which --auth choices the sidecar accepts for which bind address, and what it says otherwise. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parseConfig } from '../../sidecar/config.js';
import { ConfigError } from '../../sidecar/options/validate.js';
import { sidecarMain } from '../support/sidecar-process.js';

const files = (contents: Record<string, string>) => (path: string) => {
  if (!(path in contents)) throw new Error(`ENOENT: no such file ${path}`);
  return contents[path];
};
const parse = (argv: string[], contents: Record<string, string> = {}) =>
  parseConfig([...argv, '--', 'x'], {}, files(contents));

test('loopback needs no --auth; any other address needs an explicit choice', () => {
  for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) {
    assert.deepEqual(parse(['--host', host]).auth, { mode: 'none', explicit: false }, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '127.attacker.example']) {
    assert.throws(
      () => parse(['--host', host]),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message.includes(`--host ${host} is not a loopback address`) &&
        err.message.includes('add --auth bearer --auth-token-file <path>') &&
        err.message.includes('or --auth none'),
      host,
    );
    assert.deepEqual(parse(['--host', host, '--auth', 'none']).auth, { mode: 'none', explicit: true });
  }
  const fromEnv = parseConfig(['--', 'x'], { MCP_SIDECAR_HOST: '0.0.0.0', MCP_SIDECAR_AUTH: 'none' }, files({}));
  assert.deepEqual(fromEnv.auth, { mode: 'none', explicit: true });
});

test('--auth bearer: a readable token file with at least one token; mistakes name the file and line, never a token', () => {
  const ok = parse(['--host', '0.0.0.0', '--auth', 'bearer', '--auth-token-file', '/t'], {
    '/t': '# the mesh token\n\nabc.DEF-123_~+/==\n',
  });
  assert.deepEqual(ok.auth, { mode: 'bearer', tokenFile: '/t' });
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--auth', 'bearer'], {}, /^--auth bearer needs --auth-token-file <path>/],
    [['--auth', 'bearer', '--auth-token-file', '/missing'], {}, /^--auth-token-file \/missing: cannot read it/],
    [['--auth', 'bearer', '--auth-token-file', '/t'], { '/t': '# none yet\n\n' }, /\/t: no token in it/],
    [
      ['--auth', 'bearer', '--auth-token-file', '/t'],
      { '/t': 'good\nsecret with space\n' },
      /^--auth-token-file \/t line 2: not a bearer token/,
    ],
    [['--auth-token-file', '/t'], { '/t': 'x' }, /only read with --auth bearer; add --auth bearer/],
    [['--auth', 'basic'], {}, /--auth: "basic" is not one of none, bearer, jwt/],
    [['--kong-upstream-token-file', '/t'], { '/t': 'x' }, /for the Kong publisher; add --kong-admin/],
  ];
  for (const [argv, contents, message] of cases) {
    assert.throws(
      () => parse(argv, contents),
      (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('secret'),
      argv.join(' '),
    );
  }
});

test('--auth jwt: issuer, JWKS and resource URLs are required; its flags without it are a mistake', () => {
  const jwt = ['--host', '0.0.0.0', '--auth', 'jwt', '--auth-issuer', 'https://as.example'];
  const urls = ['--auth-jwks-url', 'https://as.example/jwks', '--auth-resource', 'https://gw.example/m/mcp'];
  assert.deepEqual(parse([...jwt, ...urls, '--auth-scopes', 'mcp:tools,mcp:read']).auth, {
    mode: 'jwt',
    issuer: 'https://as.example',
    jwksUrl: 'https://as.example/jwks',
    resource: 'https://gw.example/m/mcp',
    scopes: ['mcp:tools', 'mcp:read'],
  });
  const scoped = parse([...jwt, ...urls, '--tool-scope', 'delete_*=mcp:admin', '--tool-scope', 'a=b=c']);
  assert.deepEqual(scoped.toolScopes, [
    ['delete_*', 'mcp:admin'],
    ['a', 'b=c'],
  ]);
  const cases: Array<[string[], RegExp]> = [
    [['--auth', 'jwt'], /^--auth jwt needs --auth-issuer <url>$/],
    [[...jwt, '--auth-resource', 'https://gw.example/mcp'], /^--auth jwt needs --auth-jwks-url <url>$/],
    [[...jwt, ...urls.slice(0, 2)], /^--auth jwt needs --auth-resource <url>$/],
    [[...jwt, '--auth-jwks-url', 'ftp://as.example/jwks', ...urls.slice(2)], /--auth-jwks-url "ftp:.*use an http/],
    [['--auth-scopes', 'a'], /^--auth-scopes is only read with --auth jwt; add --auth jwt$/],
    [['--auth', 'bearer', '--auth-issuer', 'https://as.example'], /^--auth-issuer is only read with --auth jwt/],
    [['--tool-scope', 'x=mcp:x'], /^--tool-scope is only read with --auth jwt; add --auth jwt$/],
    [[...jwt, ...urls, '--tool-scope', 'x'], /--tool-scope "x": use KEY=VALUE/],
    [[...jwt, ...urls, '--tool-scope', 'x=two words'], /--tool-scope "x=two words": the scope must be one OAuth scope/],
    [[...jwt, ...urls, '--tool-scope', 'x='], /the scope must be one OAuth scope/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parse(argv),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
      argv.join(' '),
    );
  }
});

test('--kong-upstream-token-file: the first token of the file goes to the Kong publisher', () => {
  const config = parse(['--kong-admin', 'http://kong:8001', '--kong-upstream-token-file', '/k'], {
    '/k': '# for Kong\nfirst\nsecond\n',
  });
  assert.equal(config.kong?.upstreamToken, 'first');
});

test('Kong Admin API credentials: token and CA files are read, checked, and need --kong-admin', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const kong = ['--kong-admin', 'https://kong:8444', '--kong-admin-token-file', '/a', '--kong-ca-file', '/ca'];
  const config = parse(kong, { '/a': ' rbac-token \n', '/ca': pem });
  assert.equal(config.kong?.adminToken, 'rbac-token');
  assert.equal(config.kong?.ca, pem);
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [
      ['--kong-admin-token-file', '/a'],
      { '/a': 'x' },
      /^--kong-admin-token-file is for the Kong publisher; add --kong-admin/,
    ],
    [['--kong-ca-file', '/ca'], { '/ca': pem }, /^--kong-ca-file is for the Kong publisher; add --kong-admin/],
    [kong, { '/a': '\n', '/ca': pem }, /^--kong-admin-token-file \/a: write the token alone in the file/],
    [kong, { '/a': 'secret words', '/ca': pem }, /^--kong-admin-token-file \/a: write the token alone/],
    [kong, { '/a': 'x', '/ca': 'not a cert' }, /^--kong-ca-file \/ca: not a PEM certificate/],
  ];
  for (const [argv, contents, message] of cases) {
    assert.throws(
      () => parse(argv, contents),
      (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('secret'),
      argv.join(' '),
    );
  }
});

test('the CLI on 0.0.0.0 without --auth exits 2 and names the flags to add', () => {
  const run = spawnSync(process.execPath, [sidecarMain, '--host', '0.0.0.0', '--port', '0'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--host 0\.0\.0\.0 is not a loopback address/);
  assert.match(run.stderr, /--auth bearer --auth-token-file <path>/);
});
