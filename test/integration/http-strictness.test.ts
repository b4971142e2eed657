/**
 * Where a gateway and the sidecar could read one request two ways, the sidecar reads it strictly or refuses it:
 * the Base64 sentinel of Mcp-Name and Mcp-Param-* (strict, canonical Base64), integers mirrored into Mcp-Param-*
 * (decimal text, compared exactly), a second Host header (RFC 9112 §3.2), Accept parsed as media ranges (RFC 9110
 * §12.5.1), one routing for every method on /mcp (case-sensitive paths, `/mcp/`, absolute-form targets), and GET
 * or DELETE from a 2026-07-28 client (405: the revision has no GET stream and no sessions).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, raw, session, textOf, written } from '../support/harness.js';
import { meta, modern, MODERN } from '../support/modern-post.js';
import { fixtureCommand, waitFor } from '../support/sidecar-process.js';

const ACCEPT = 'application/json, text/event-stream';
const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

/** A modern request's body text (numbers as written: JSON.stringify cannot write 99999999999999999999). */
function modernBody(method: string, params: string): string {
  const metaText = JSON.stringify(meta());
  return `{"jsonrpc":"2.0","id":1,"method":"${method}","params":{${params},"_meta":${metaText}}}`;
}

test('HTTP strictness, against the fault-tools fixture', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const legacy = await session(t, sidecar.url);
  const host = new URL(sidecar.url).host;
  /** A modern POST whose body text and headers are the test's own. */
  const post = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(`${sidecar.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-protocol-version': MODERN, ...headers },
      body,
    });
    return { status: res.status, body: await res.json() };
  };

  const headerMismatch = (res: { status: number; response?: any }, why: RegExp, what: string) => {
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.response)}`);
    assert.equal(res.response.error.code, -32020, what);
    assert.match(res.response.error.message, why, what);
  };

  await t.test(
    'Mcp-Name: a Base64 sentinel is decoded strictly, and a malformed one is refused with what is wrong',
    async () => {
      const echo = (name: string) =>
        modern(sidecar.url, 'tools/call', { name: 'echo', arguments: { n: 1 } }, { 'mcp-name': name });
      const ok = await echo(b64('echo'));
      assert.equal(ok.status, 200, JSON.stringify(ok.response));
      assert.equal(textOf(ok.response!), '{"n":1}');
      for (const [sentinel, why] of [
        ['=?base64?ZW#Nobw?=', /has "#" in its =\?base64\?…\?= sentinel, which is not a Base64 character/],
        ['=?base64?ZWNobw==AAAA?=', /has "=" inside the Base64 .* padding may only end it/],
        ['=?base64?ZWNob3?=', /has 6 characters .* groups of four/],
        ['=?base64?ZWNobw?=', /has 6 characters .* groups of four/],
        ['=?base64?ZWNob3==?=', /has non-canonical Base64 .* \(canonical: ZWNobw==\)/],
        ['=?base64?ZW-obw==?=', /has "-" .* not a Base64 character/],
        [`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`, /has Base64 .* that is not UTF-8 text/],
        ['=?base64?=', /is an incomplete =\?base64\?…\?= sentinel/],
      ] as const)
        headerMismatch(
          await echo(sentinel),
          new RegExp(`^Header mismatch: the Mcp-Name header ${why.source}`),
          sentinel,
        );
      // A plain value that looks like a sentinel is decoded, never compared as it stands: a client MUST encode it.
      const literal = '=?base64?ZWNobw==?=';
      const looksLike = await modern(
        sidecar.url,
        'tools/call',
        { name: literal, arguments: {} },
        { 'mcp-name': literal },
      );
      headerMismatch(looksLike, /Mcp-Name header "echo" does not match body params\.name/, 'sentinel-shaped name');
    },
  );

  await t.test('Mcp-Name sent twice is refused, even when the joined value equals the body', async () => {
    const body = modernBody('tools/call', '"name":"echo, x","arguments":{}');
    const head = [
      'POST /mcp HTTP/1.1',
      `Host: ${host}`,
      'Content-Type: application/json',
      `Accept: ${ACCEPT}`,
      `MCP-Protocol-Version: ${MODERN}`,
      'Mcp-Method: tools/call',
      'Mcp-Name: echo',
      'Mcp-Name: x',
    ].join('\r\n');
    const res = await written(sidecar.url, head, body);
    assert.equal(res.status, 400, JSON.stringify(res.json));
    assert.equal(res.json.error.code, -32020);
    assert.match(res.json.error.message, /more than one Mcp-Name header; send exactly one/);
  });

  await t.test(
    'Mcp-Param-*: an integer header is decimal text equal to the body value; anything else is refused',
    async () => {
      const routed = (shard: string, args = '"shard":16') =>
        post(modernBody('tools/call', `"name":"routed","arguments":{${args}}`), {
          'mcp-method': 'tools/call',
          'mcp-name': 'routed',
          'mcp-param-shard': shard,
        });
      // Numerically equal decimal text passes, as the transport page's Server Validation note asks (42.0 is 42).
      for (const shard of ['16', '16.0', '016', b64('16')]) {
        const res = await routed(shard);
        assert.equal(res.status, 200, `${shard}: ${JSON.stringify(res.body)}`);
        assert.equal(textOf(res.body), '{"shard":16}');
      }
      const negative = await routed('-7.000', '"shard":-7');
      assert.equal(negative.status, 200, JSON.stringify(negative.body));
      for (const shard of ['0x10', '1.6e1', '+16', '16.5', '16.0000000000000001', '-16', '1_6', 'sixteen']) {
        const res = await routed(shard);
        assert.equal(res.status, 400, `${shard}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, -32020, shard);
        assert.match(res.body.error.message, /Mcp-Param-Shard header ".*" does not match argument shard 16/, shard);
      }
      // Past 2^53 a JSON number loses digits (99999999999999999999 parses as 1e20): no header can be checked.
      for (const [shard, value] of [
        ['100000000000000000000', '99999999999999999999'],
        ['99999999999999999999', '99999999999999999999'],
        ['9007199254740993', '9007199254740993'],
      ]) {
        const res = await routed(shard, `"shard":${value}`);
        assert.equal(res.status, 400, `${value}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, -32020);
        assert.match(res.body.error.message, /argument shard is beyond the safe integer range/);
      }
      const bad = await routed('=?base64?MTY?=');
      assert.equal(bad.status, 400);
      assert.match(
        bad.body.error.message,
        /the Mcp-Param-Shard header has 3 characters in its =\?base64\?…\?= sentinel/,
      );
    },
  );

  await t.test(
    'two Host headers are a 400 on every route (RFC 9112 §3.2), as are two Content-Type or Authorization; one passes',
    async () => {
      const list = modernBody('tools/list', '"x":0');
      const modernHead = (hosts: string[]) =>
        [
          'POST /mcp HTTP/1.1',
          ...hosts.map((h) => `Host: ${h}`),
          'Content-Type: application/json',
          `Accept: ${ACCEPT}`,
          `MCP-Protocol-Version: ${MODERN}`,
          'Mcp-Method: tools/list',
        ].join('\r\n');
      const one = await written(sidecar.url, modernHead([host]), list);
      assert.equal(one.status, 200, JSON.stringify(one.json));
      for (const hosts of [
        [host, 'evil.com'],
        ['evil.com', host],
        [host, host],
      ]) {
        const two = await written(sidecar.url, modernHead(hosts), list);
        assert.equal(two.status, 400, `${hosts}: ${JSON.stringify(two.json)}`);
        assert.match(two.json.error.message, /more than one Host header \(RFC 9112 §3\.2\); send exactly one/);
      }
      const health = await written(sidecar.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nhost: evil.com`);
      assert.equal(health.status, 400);
      // Content-Type and Authorization are not lists either: node would keep the first, a proxy maybe the last.
      for (const [repeated, name] of [
        ['Content-Type: text/plain', 'Content-Type'],
        ['authorization: Bearer a\r\nAuthorization: Bearer b', 'Authorization'],
      ]) {
        const twice = await written(sidecar.url, `${modernHead([host])}\r\n${repeated}`, list);
        assert.equal(twice.status, 400, `${name}: ${JSON.stringify(twice.json)}`);
        assert.match(twice.json.error.message, new RegExp(`more than one ${name} header \\(it is not a list`));
      }
    },
  );

  await t.test(
    'Accept is parsed as media ranges: case-insensitive, the most specific range decides, q=0 refuses, look-alikes do not list a type',
    async () => {
      const list = (accept: string) => modern(sidecar.url, 'tools/list', {}, { accept });
      for (const accept of [
        'APPLICATION/JSON, TEXT/EVENT-STREAM',
        'text/event-stream;q=0.5, application/json; charset="utf-8, or not"',
        'application/json;q=0.001,,text/event-stream',
        '*/*',
        'application/*, text/*',
        'application/json;, text/event-stream; ;q=1',
        'application/json, */*;q=0.1',
      ]) {
        const res = await list(accept);
        assert.equal(res.status, 200, `${accept}: ${JSON.stringify(res.response)}`);
      }
      for (const [accept, why] of [
        ['application/jsonx, text/event-streamy', /Accept does not list application\/json/],
        ['application/json;q=0, text/event-stream', /Accept gives application\/json q=0, which means not acceptable/],
        ['application/json, text/event-stream;Q=0.000', /Accept gives text\/event-stream q=0/],
        ['application/*;q=0, */*', /Accept gives application\/json q=0/],
        ['text/event-stream, application/json;q=0, */*', /Accept gives application\/json q=0/],
        ['text/*', /\(Accept does not list application\/json\)$/],
        ['application/json;q=2, text/event-stream', /q=2; a weight is 0 to 1/],
        ['application/json text/event-stream', /Accept has "t" after application\/json/],
      ] as const) {
        const res = await list(accept);
        // A transport refusal belongs to no request: its id is null.
        const [refusal] = res.messages;
        assert.equal(res.status, 406, `${accept}: ${JSON.stringify(refusal)}`);
        assert.equal(refusal.error.code, -32000);
        assert.match(refusal.error.message, /^Not Acceptable: the client must accept both/, accept);
        assert.match(refusal.error.message, why, accept);
      }
      const get = (accept: string) =>
        fetch(`${sidecar.url}/mcp`, { headers: { ...legacy.headers(), accept }, signal: AbortSignal.timeout(5000) });
      const stream = await get('TEXT/EVENT-STREAM');
      assert.equal(stream.status, 200);
      assert.equal(stream.headers.get('content-type'), 'text/event-stream');
      await stream.body?.cancel();
      // */* admits text/event-stream (once the stream above is seen closed: a session has one GET stream).
      const served = await waitFor(
        async () => {
          const res = await get('*/*');
          if (res.status !== 409) return res;
          await res.body?.cancel();
          return undefined;
        },
        5000,
        'the first GET stream to be closed',
      );
      assert.equal(served.status, 200);
      await served.body?.cancel();
      for (const accept of ['text/event-stream;q=0', 'text/*;q=0, */*', 'application/json']) {
        const refused = await get(accept);
        assert.equal(refused.status, 406, accept);
        assert.match(
          (await refused.json()).error.message,
          /GET \/mcp opens an SSE stream; send Accept: text\/event-stream/,
        );
      }
    },
  );

  await t.test(
    '/mcp is routed alike for every method: /mcp/ is /mcp, /MCP is no route, absolute-form routes by its path',
    async () => {
      const list = modernBody('tools/list', '"x":0');
      const modernHeaders = {
        host,
        'content-type': 'application/json',
        accept: ACCEPT,
        'mcp-protocol-version': MODERN,
        'mcp-method': 'tools/list',
      };
      const slash = await raw(sidecar.url, { path: '/mcp/', headers: modernHeaders, body: list });
      assert.equal(slash.status, 200, slash.body);
      assert.ok(slash.json().result.tools.some((t: { name: string }) => t.name === 'routed'));
      const session = { host, ...legacy.headers(), accept: 'text/event-stream' };
      for (const [method, path, headers, body] of [
        ['POST', '/MCP', modernHeaders, list],
        ['GET', '/MCP', session, undefined],
        ['DELETE', '/MCP', session, undefined],
        ['POST', '/Mcp/', modernHeaders, list],
        ['GET', '/TOOLS', { host }, undefined],
      ] as const) {
        const res = await raw(sidecar.url, { method, path, headers, body });
        assert.equal(res.status, 404, `${method} ${path}: ${res.body}`);
      }
      const put = await raw(sidecar.url, { method: 'PUT', path: '/mcp/', headers: { host } });
      assert.equal(put.status, 405);
      assert.equal(put.headers.allow, 'GET, POST, DELETE');

      // RFC 9112 §3.2.2: a server MUST accept the absolute-form, and its authority, not Host, names the host.
      const absolute = (target: string, hostHeader: string) =>
        written(
          sidecar.url,
          [
            `POST ${target} HTTP/1.1`,
            `Host: ${hostHeader}`,
            'Content-Type: application/json',
            `Accept: ${ACCEPT}`,
            `MCP-Protocol-Version: ${MODERN}`,
            'Mcp-Method: tools/list',
          ].join('\r\n'),
          list,
        );
      const served = await absolute(`http://${host}/mcp`, host);
      assert.equal(served.status, 200, JSON.stringify(served.json));
      assert.ok(served.json.result.tools.length > 0);
      const rebinding = await absolute('http://evil.example/mcp', host);
      assert.equal(rebinding.status, 403, JSON.stringify(rebinding.json));
      assert.match(rebinding.json.error.message, /Host "evil\.example" is not allowed/);
      const userinfo = await absolute(`http://user@${host}/mcp`, host);
      assert.equal(userinfo.status, 400);
      assert.match(userinfo.json.error.message, /carries userinfo/);
      const health = await written(sidecar.url, `GET http://${host}/healthz HTTP/1.1\r\nHost: ${host}`);
      assert.equal(health.status, 200);
      // A fragment is no part of a request target: no way around the authority rule by making the form unmatched.
      for (const target of ['http://evil.example/tools#x', `http://${host}/mcp#x`]) {
        const odd = await written(sidecar.url, `GET ${target} HTTP/1.1\r\nHost: ${host}`);
        assert.equal(odd.status, 400, `${target}: ${JSON.stringify(odd.json)}`);
        assert.match(odd.json.error.message, /neither a path nor an absolute http URI/, target);
      }
    },
  );

  await t.test(
    'GET and DELETE /mcp from a 2026-07-28 client: 405 with Allow: POST; a legacy GET without a session stays 400',
    async () => {
      for (const method of ['GET', 'DELETE']) {
        const res = await raw(sidecar.url, {
          method,
          headers: { host, accept: 'text/event-stream', 'mcp-protocol-version': MODERN },
        });
        assert.equal(res.status, 405, `${method}: ${res.body}`);
        assert.equal(res.headers.allow, 'POST');
        assert.equal(res.json().error.code, -32000);
        assert.match(res.json().error.message, /MCP 2026-07-28 has no sessions and no GET stream; POST each request/);
      }
      const legacyGet = await raw(sidecar.url, { method: 'GET', headers: { host, accept: 'text/event-stream' } });
      assert.equal(legacyGet.status, 400);
      assert.match(legacyGet.json().error.message, /Mcp-Session-Id header is required/);
    },
  );
});
