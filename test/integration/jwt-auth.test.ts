/**
 * --auth jwt against a real authorization server: oidc-provider (a certified OpenID Connect provider) started
 * here, issuing client-credentials JWT access tokens for a resource (RFC 8707). Expired, wrong-audience,
 * wrong-issuer, unsigned (alg none), wrong-key and rotated-key tokens, scopes, and the protected resource
 * metadata (RFC 9728) the 401 points at. --tool-scope: per-caller tool lists in both eras and on REST. The MRTR
 * requestState bound to the token's subject, not to the token.
 */
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { callTool, launch, metric, rest, textOf } from '../support/harness.js';
import { ask, retry } from '../support/mrtr-calls.js';
import { fixtureCommand, McpHttpClient, type RunningSidecar } from '../support/sidecar-process.js';

const RESOURCE = 'https://gw.example/fault/mcp';
const CLIENT = { client_id: 'mcp-test', client_secret: 'mcp-test-secret' };
/** A second client of the provider: its client-credentials tokens carry another subject. */
const OTHER = { client_id: 'mcp-other', client_secret: 'mcp-other-secret' };

async function signingKey(kid: string): Promise<{ jwk: JWK; privateKey: CryptoKey }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { jwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

/** An oidc-provider that issues JWT access tokens for any resource indicator, signed with `keys[0]`. */
function provider(issuer: string, keys: JWK[]): RequestListener {
  const oidc = new Provider(issuer, {
    clients: [CLIENT, OTHER].map((client) => ({
      ...client,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'mcp:tools mcp:admin',
    })),
    jwks: { keys },
    scopes: ['mcp:tools', 'mcp:admin'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => ({
          scope: 'mcp:tools mcp:admin',
          audience: indicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  return oidc.callback();
}

describe('--auth jwt against oidc-provider', () => {
  let server: Server;
  let issuer: string;
  let first: Awaited<ReturnType<typeof signingKey>>;
  let sidecar: RunningSidecar;

  /** A client-credentials access token from the provider. */
  async function token(scope: string, resource = RESOURCE, client = CLIENT): Promise<string> {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...client, scope, resource }),
    });
    const body = (await res.json()) as { access_token?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.access_token!;
  }

  /** The sidecar options of --auth jwt against this provider, for this resource, requiring mcp:tools. */
  const jwtOptions = () => [
    ...['--auth', 'jwt', '--auth-issuer', issuer, '--auth-jwks-url', `${issuer}/jwks`],
    ...['--auth-resource', RESOURCE, '--auth-scopes', 'mcp:tools'],
  ];

  const tools = (accessToken?: string) =>
    fetch(`${sidecar.url}/tools`, accessToken ? { headers: { authorization: `Bearer ${accessToken}` } } : {});

  async function refused(accessToken: string, message: RegExp, status = 401): Promise<Response> {
    const res = await tools(accessToken);
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, message);
    return res;
  }

  before(async () => {
    first = await signingKey('key-1');
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', provider(issuer, [first.jwk]));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('tokens, refusals, metadata and key rotation', async (t) => {
    sidecar = await launch(t, [...jwtOptions(), '--', ...fixtureCommand('fault-tools')]);

    // No token: 401 pointing at the metadata, which names the authorization server.
    const bare = await tools();
    assert.equal(bare.status, 401);
    const metadataUrl = 'https://gw.example/fault/.well-known/oauth-protected-resource';
    assert.equal(bare.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl}"`);
    const metadata = await (await fetch(`${sidecar.url}/.well-known/oauth-protected-resource`)).json();
    assert.deepEqual(metadata, {
      resource: RESOURCE,
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools'],
    });

    // A real token with the scope: REST and an MCP session.
    const good = await token('mcp:tools');
    assert.equal((await tools(good)).status, 200);
    const client = new McpHttpClient(sidecar.url, { authorization: `Bearer ${good}` });
    await client.initialize();
    t.after(() => client.close().catch(() => 0));
    assert.ok((await client.request('tools/list')).result.tools.length > 0);

    // Without the required scope: 403 insufficient_scope naming it.
    const narrow = await refused(await token('mcp:admin'), /lacks the scope mcp:tools/, 403);
    assert.match(narrow.headers.get('www-authenticate')!, /error="insufficient_scope", scope="mcp:tools"/);

    // For another resource (RFC 8707 audience), from another issuer, expired, unsigned, signed by another key.
    await refused(await token('mcp:tools', 'https://other.example/mcp'), /not for this resource/);
    const claims = { scope: 'mcp:tools', client_id: CLIENT.client_id };
    const signed = (key: CryptoKey, kid: string, iss: string, exp: number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
        .setIssuer(iss)
        .setAudience(RESOURCE)
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(key);
    const inAMinute = Math.floor(Date.now() / 1000) + 60;
    assert.equal((await tools(await signed(first.privateKey, 'key-1', issuer, inAMinute))).status, 200, 'control');
    await refused(await signed(first.privateKey, 'key-1', 'https://evil.example', inAMinute), /not issued by/);
    await refused(await signed(first.privateKey, 'key-1', issuer, inAMinute - 180), /has expired/);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: issuer, aud: RESOURCE, exp: inAMinute })}.`;
    await refused(unsigned, /asymmetric algorithm|not a valid JWT/);
    const stranger = await signingKey('key-1');
    await refused(await signed(stranger.privateKey, 'key-1', issuer, inAMinute), /signature does not verify/);

    // The provider rotates to a new key (the old one still published): new tokens carry a kid the sidecar has
    // not seen, it fetches the JWKS again and accepts them; tokens signed by the old key still pass.
    const second = await signingKey('key-2');
    server.removeAllListeners('request');
    server.on('request', provider(issuer, [second.jwk, first.jwk]));
    const rotated = await token('mcp:tools');
    assert.equal(JSON.parse(Buffer.from(rotated.split('.')[0], 'base64url').toString()).kid, 'key-2');
    assert.equal((await tools(rotated)).status, 200, 'a token of the new key');
    assert.equal((await tools(good)).status, 200, 'a token of the old key');

    for (const secret of [good, rotated]) assert.ok(!sidecar.logs().includes(secret), 'no token in the log');
  });
  test('--tool-scope: a tool exists only for callers granted its scope, per request, never across sessions', async (t) => {
    const scoped = await launch(t, [
      ...jwtOptions(),
      ...['--tool-scope', 'slow*=mcp:admin', '--tool-scope', 'pid=mcp:admin', '--tools-deny', 'slow-write'],
      '--',
      ...fixtureCommand('fault-tools'),
    ]);
    const inAMinute = Math.floor(Date.now() / 1000) + 60;
    const tokenFor = (sub: string, scope: string) =>
      new SignJWT({ scope })
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(RESOURCE)
        .setSubject(sub)
        .setExpirationTime(inAMinute)
        .sign(first.privateKey);
    const narrow = await tokenFor('alice', 'mcp:tools');
    const wide = await tokenFor('bob', 'mcp:tools mcp:admin');
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const names = (tools: Array<{ name: string }>) => tools.map((x) => x.name).sort();
    const admin = ['pid', 'slow', 'slow-idempotent', 'slow-readonly'];

    // REST: GET /tools per caller (never cached for others), a hidden tool is a 404 naming only what exists.
    const restList = async (token: string) => {
      const res = await fetch(`${scoped.url}/tools`, { headers: bearer(token) });
      assert.match(res.headers.get('cache-control')!, /^private/);
      return names(((await res.json()) as { tools: Array<{ name: string }> }).tools);
    };
    const everyone = await restList(narrow);
    for (const name of [...admin, 'slow-write']) assert.ok(!everyone.includes(name), name);
    assert.deepEqual(await restList(wide), [...everyone, ...admin].sort());
    const hidden = await rest(scoped.url, 'pid', {}, bearer(narrow));
    assert.equal(hidden.status, 404);
    assert.deepEqual([...hidden.body.tools].sort(), everyone);
    assert.equal((await rest(scoped.url, 'pid', {}, bearer(wide))).status, 200);

    // GET /openapi.json: the caller's view, as GET /tools (private); a scoped operation names the scopes it needs.
    const documentFor = async (token: string) => {
      const res = await fetch(`${scoped.url}/openapi.json`, { headers: bearer(token) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control')!, /^private/);
      const doc = (await res.json()) as { paths: Record<string, any> };
      return {
        etag: res.headers.get('etag'),
        doc,
        tools: Object.keys(doc.paths)
          .map((p) => p.slice(7))
          .sort(),
      };
    };
    const [narrowDoc, wideDoc] = [await documentFor(narrow), await documentFor(wide)];
    assert.deepEqual(narrowDoc.tools, everyone);
    assert.deepEqual(wideDoc.tools, [...everyone, ...admin].sort());
    assert.notEqual(narrowDoc.etag, wideDoc.etag);
    assert.deepEqual(wideDoc.doc.paths['/tools/pid'].post.security, [{ bearerAuth: ['mcp:tools', 'mcp:admin'] }]);

    // Two legacy sessions on the one shared server process, asking at the same time: each gets its own list.
    const alice = new McpHttpClient(scoped.url, bearer(narrow));
    const bob = new McpHttpClient(scoped.url, bearer(wide));
    await Promise.all([alice.initialize(), bob.initialize()]);
    t.after(() => Promise.all([alice.close(), bob.close()]).catch(() => 0));
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([alice.request('tools/list'), bob.request('tools/list')]);
      assert.deepEqual(names(a.result.tools), everyone, `alice, round ${round}`);
      assert.deepEqual(names(b.result.tools), [...everyone, ...admin].sort(), `bob, round ${round}`);
    }
    const refused = await callTool(alice, 'pid');
    assert.deepEqual(refused.error, { code: -32602, message: 'Tool pid not found' });
    assert.ok((await callTool(bob, 'pid')).result, 'bob may call pid');
    // Per request, not per session: alice's session, with a token of hers granting more, sees the wide list.
    const aliceWide = await tokenFor('alice', 'mcp:tools mcp:admin');
    const upgraded = await alice.request('tools/list', undefined, { headers: bearer(aliceWide) });
    assert.deepEqual(names(upgraded.result.tools), [...everyone, ...admin].sort());
    // The session is alice's: bob's token naming it finds no such session.
    const taken = await alice.post({ jsonrpc: '2.0', id: 99, method: 'tools/list' }, bearer(wide));
    assert.equal(taken.status, 404);
    await taken.body?.cancel();

    // 2026-07-28 (the official client, pinned): the same per-caller list, marked private for caches.
    for (const [token, expected] of [
      [narrow, everyone],
      [wide, [...everyone, ...admin].sort()],
    ] as const) {
      const client = new Client(
        { name: 'scoped', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      const transport = new StreamableHTTPClientTransport(new URL(`${scoped.url}/mcp`), {
        requestInit: { headers: bearer(token) },
      });
      await client.connect(transport);
      t.after(() => client.close());
      const listed = await client.listTools();
      assert.deepEqual(names(listed.tools), expected);
      assert.equal((listed as { cacheScope?: string }).cacheScope, 'private');
    }

    // Each call is logged with its caller's subject, method and tool; no token is.
    const lines = scoped
      .logs()
      .split('\n')
      .filter((l) => l.includes('"msg":"call"'));
    assert.ok(
      lines.some((l) => l.includes('"sub":"alice"') && l.includes('"tool":"pid"')),
      'alice calling pid',
    );
    assert.ok(lines.some((l) => l.includes('"sub":"bob"') && l.includes('"method":"tools/list"')));
    for (const secret of [narrow, wide]) assert.ok(!scoped.logs().includes(secret), 'no token in the log');
  });

  test('MRTR: a requestState is bound to the JWT subject: a refreshed token of that subject may retry, another subject may not', async (t) => {
    const mrtr = await launch(t, [...jwtOptions(), '--', ...fixtureCommand('conformance-server')]);
    const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });
    const subject = (accessToken: string) =>
      JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString()).sub as string;
    const first = await token('mcp:tools');
    const { requestState } = await ask(mrtr.url, bearer(first));

    // Another client of the same provider: a valid token, with the scope, of another subject.
    const stranger = await token('mcp:tools', RESOURCE, OTHER);
    assert.notEqual(subject(stranger), subject(first));
    const refused = await retry(mrtr.url, requestState, bearer(stranger));
    assert.equal(refused.response!.error?.code, -32602, JSON.stringify(refused.response));
    assert.match(refused.response!.error.message, /requestState was issued to another caller/);
    assert.equal(await metric(mrtr.url, 'mcp_sidecar_input_pending'), 1, 'the waiting call is untouched');

    // The same client's next token (a refresh: another credential, the same subject) continues the call.
    const refreshed = await token('mcp:tools');
    assert.notEqual(refreshed, first);
    assert.equal(subject(refreshed), subject(first));
    assert.equal(textOf((await retry(mrtr.url, requestState, bearer(refreshed))).response!), 'Hello, Alice!');
    assert.equal(await metric(mrtr.url, 'mcp_sidecar_input_pending'), 0);
  });
});
