/**
 * Where a gateway and the sidecar could read one request two ways, the sidecar reads it strictly or refuses it:
 * the Base64 sentinel of Mcp-Name and Mcp-Param-* (strict, canonical Base64), integers mirrored into Mcp-Param-*
 * (decimal text, compared exactly), a second Host header (RFC 9112 §3.2), Accept parsed as media ranges (RFC 9110
 * §12.5.1), one routing for every method on /mcp (case-sensitive paths, `/mcp/`, absolute-form targets), and GET
 * or DELETE from a 2026-07-28 client (405: the revision has no GET stream and no sessions).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, textOf, written } from '../support/harness.js';
import { meta, modern, MODERN } from '../support/modern-post.js';
import { fixtureCommand } from '../support/sidecar-process.js';

const ACCEPT = 'application/json, text/event-stream';
const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

/** A modern request's body text (numbers as written: JSON.stringify cannot write 99999999999999999999). */
function modernBody(method: string, params: string): string {
  const metaText = JSON.stringify(meta());
  return `{"jsonrpc":"2.0","id":1,"method":"${method}","params":{${params},"_meta":${metaText}}}`;
}

test('HTTP strictness, against the fault-tools fixture', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('fault-tools')]);
  const host = new URL(sidecar.url).host;
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
});
