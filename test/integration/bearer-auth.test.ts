/**
 * --auth bearer against the real sidecar and a real server process: who gets 401 and what the challenge says,
 * which routes stay open for probes, the token file re-read on change, and the token kept from the server
 * process (its requests and its environment) and from the log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { launch, rest, textOf } from '../support/harness.js';
import { fixtureCommand, McpHttpClient, waitFor } from '../support/sidecar-process.js';

const TOKEN = 'first-token-5f1c9a0e7b2d4c6f';
const ROTATED = 'second-token-9d8e7f6a5b4c3d2e';

/** A sidecar with --auth bearer in front of fault-tools, its token file holding `text`. */
async function withTokens(t: TestContext, text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'bearer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tokens');
  writeFileSync(file, text);
  const sidecar = await launch(t, [
    '--auth',
    'bearer',
    '--auth-token-file',
    file,
    '--',
    ...fixtureCommand('fault-tools'),
  ]);
  return { sidecar, file };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('--auth bearer', () => {
  test('401 with WWW-Authenticate: Bearer on /mcp and /tools; probes stay open; a listed token passes', async (t) => {
    const { sidecar } = await withTokens(t, `# tokens of the mesh\n${TOKEN}\n`);
    const initialize = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    };
    const post = (headers: Record<string, string>) => new McpHttpClient(sidecar.url, headers).post(initialize);
    const cases: Array<[string, () => Promise<Response>, RegExp, RegExp]> = [
      ['no header', () => post({}), /^Bearer realm="mcp-sidecar"$/, /needs Authorization: Bearer <token>/],
      ['wrong token', () => post(bearer('nope')), /error="invalid_token"/, /token is not accepted/],
      [
        'other scheme',
        () => post({ authorization: 'Basic dTpw' }),
        /error="invalid_request"/,
        /must be "Bearer <token>"/,
      ],
      ['GET /tools', () => fetch(`${sidecar.url}/tools`), /^Bearer /, /needs Authorization/],
      [
        'GET /mcp',
        () => fetch(`${sidecar.url}/mcp`, { headers: { accept: 'text/event-stream' } }),
        /^Bearer /,
        /needs/,
      ],
      [
        'POST /tools/echo',
        () => fetch(`${sidecar.url}/tools/echo`, { method: 'POST', headers: bearer('x') }),
        /invalid_token/,
        /not accepted/,
      ],
    ];
    for (const [what, send, challenge, message] of cases) {
      const res = await send();
      assert.equal(res.status, 401, what);
      assert.match(res.headers.get('www-authenticate') ?? '', challenge, what);
      const body = (await res.json()) as { error: { message: string } };
      assert.match(body.error.message, message, what);
      assert.ok(!body.error.message.includes('nope'), 'the refusal never repeats what was sent');
    }
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await fetch(`${sidecar.url}${path}`)).status, 200, `${path} needs no token`);
    }

    const client = new McpHttpClient(sidecar.url, bearer(TOKEN));
    await client.initialize();
    t.after(() => client.close().catch(() => 0));
    assert.equal(
      textOf(await client.request('tools/call', { name: 'echo', arguments: { text: 'hi' } })),
      '{"text":"hi"}',
    );
    const listed = await fetch(`${sidecar.url}/tools`, { headers: bearer(TOKEN) });
    assert.equal(listed.status, 200);
    assert.equal((await rest(sidecar.url, 'echo', { text: 'rest' }, bearer(TOKEN))).status, 200);

    // What reached the server: the request's _meta and the process environment carry no token.
    const meta = textOf(
      await client.request(
        'tools/call',
        { name: 'meta', arguments: {} },
        { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
      ),
    );
    assert.ok(!meta.includes(TOKEN) && !/authorization/i.test(meta), meta);
    const pid = Number(textOf(await client.request('tools/call', { name: 'pid', arguments: {} })));
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    assert.ok(!environ.includes(TOKEN), 'the server process environment has no token');
    assert.ok(!sidecar.logs().includes(TOKEN), 'the log has no token');
  });

  test("a session is its opener's: another valid token naming its id gets 404, and cannot close it", async (t) => {
    const { sidecar } = await withTokens(t, `${TOKEN}\n${ROTATED}\n`);
    const owner = new McpHttpClient(sidecar.url, bearer(TOKEN));
    await owner.initialize();
    t.after(() => owner.close().catch(() => 0));
    const other = new McpHttpClient(sidecar.url, bearer(ROTATED));
    other.sessionId = owner.sessionId;
    const ping = await other.post({ jsonrpc: '2.0', id: 7, method: 'ping' });
    assert.equal(ping.status, 404, 'answered as a session that does not exist');
    assert.match(((await ping.json()) as { error: { message: string } }).error.message, /Session not found/);
    const closed = await fetch(`${sidecar.url}/mcp`, { method: 'DELETE', headers: other.headers() });
    assert.equal(closed.status, 404);
    assert.equal(
      textOf(await owner.request('tools/call', { name: 'echo', arguments: { text: 'still mine' } })),
      '{"text":"still mine"}',
    );
    assert.match(sidecar.logs(), /a request named a session another caller opened/);
    assert.ok(!sidecar.logs().includes(ROTATED) && !sidecar.logs().includes(TOKEN), 'no token in the log');
  });

  test('the token file is re-read when it changes: a new token works, a removed one stops working', async (t) => {
    const { sidecar, file } = await withTokens(t, `${TOKEN}\n`);
    const status = async (token: string) => (await fetch(`${sidecar.url}/tools`, { headers: bearer(token) })).status;
    assert.equal(await status(TOKEN), 200);
    assert.equal(await status(ROTATED), 401);
    writeFileSync(file, `${TOKEN}\n${ROTATED}\n`);
    await waitFor(async () => (await status(ROTATED)) === 200, 10_000, 'the added token accepted', 100);
    assert.equal(await status(TOKEN), 200, 'both during the rotation');
    writeFileSync(file, `${ROTATED}\n`);
    await waitFor(async () => (await status(TOKEN)) === 401, 10_000, 'the removed token refused', 100);
    assert.equal(await status(ROTATED), 200);
    // A file that cannot be read keeps the last good tokens (mid-rotation), and says so.
    rmSync(file);
    await waitFor(() => /could not be re-read/.test(sidecar.logs()), 10_000, 'the re-read error logged', 100);
    assert.equal(await status(ROTATED), 200);
    assert.ok(!sidecar.logs().includes(TOKEN) && !sidecar.logs().includes(ROTATED), 'no token in the log');
  });

  test('--auth none on 0.0.0.0 starts, and says at start that anyone may call', async (t) => {
    const sidecar = await launch(t, ['--host', '0.0.0.0', '--auth', 'none', '--', ...fixtureCommand('fault-tools')], {
      ready: false,
    });
    await waitFor(
      () => /--auth none: anyone who reaches this port may call every tool/.test(sidecar.logs()),
      10_000,
      'the warning',
    );
    const line = sidecar
      .logs()
      .split('\n')
      .find((l) => l.includes('--auth none'))!;
    assert.equal(JSON.parse(line).level, 40, 'a warning');
  });
});
