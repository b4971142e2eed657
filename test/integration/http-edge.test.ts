/**
 * The HTTP edge against hostile clients, over real sockets: cross-site POSTs (Origin look-alikes, no or wrong
 * Content-Type), broken paths, deeply nested bodies, slowloris headers and bodies, too many connections and
 * too many large bodies at once. Each ends in a clear answer or a closed connection, and the sidecar's memory
 * stays bounded while SSE streams and long calls are never cut.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SseReader, launch, metric, raw, rest, type RawResponse } from '../support/harness.js';
import {
  McpHttpClient,
  fixtureCommand,
  startSidecar,
  waitFor,
  waitForReady,
  type RunningSidecar,
} from '../support/sidecar-process.js';

const ACCEPT = 'application/json, text/event-stream';
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

interface SocketOutcome {
  /** Everything the sidecar sent. */
  text: string;
  /** The status of the first response, if one came. */
  status: number | undefined;
  /** When the sidecar closed the connection (ms after connecting); undefined if it was still open at the limit. */
  closedAfterMs: number | undefined;
}

/** Connects, lets `drive` write, and collects what comes back until the sidecar closes or `limitMs` passes. */
function exchange(url: string, drive: (socket: Socket) => void, limitMs: number): Promise<SocketOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const started = Date.now();
    let text = '';
    let closedAfterMs: number | undefined;
    const timer = setTimeout(() => socket.destroy(), limitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {}); // a reset after the answer is part of what is measured, not a failure
    socket.on('end', () => (closedAfterMs ??= Date.now() - started));
    socket.on('close', () => {
      clearTimeout(timer);
      if (Date.now() - started < limitMs) closedAfterMs ??= Date.now() - started;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status ? Number(status) : undefined, closedAfterMs });
    });
    socket.on('connect', () => drive(socket));
  });
}

/** Writes one byte every `everyMs` until the socket closes: a client that is never idle, and never done. */
function trickle(socket: Socket, everyMs: number): void {
  const timer = setInterval(() => socket.write(' '), everyMs);
  socket.on('close', () => clearInterval(timer));
}

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

function bodyOf(outcome: SocketOutcome): any {
  return JSON.parse(outcome.text.slice(outcome.text.indexOf('\r\n\r\n') + 4));
}

describe('HTTP edge', () => {
  let sidecar: RunningSidecar;
  let client: McpHttpClient;
  let host: string;
  let mcp: (headers: Record<string, string>, body?: string) => Promise<RawResponse>;

  before(async () => {
    sidecar = await startSidecar([
      ...['--header-timeout', '1s', '--body-timeout', '2s', '--keep-alive', '200ms'],
      ...['--max-body', '4mb', '--max-body-reading', '16mb', '--shutdown-grace', '1s'],
      '--',
      ...fixtureCommand('paged-tools'),
    ]);
    await waitForReady(sidecar.url);
    client = new McpHttpClient(sidecar.url);
    await client.initialize();
    host = new URL(sidecar.url).host;
    mcp = (headers, body) =>
      raw(sidecar.url, { headers: { host, accept: ACCEPT, 'mcp-session-id': client.sessionId!, ...headers }, body });
  });
  after(async () => {
    const { code } = await sidecar.stop();
    assert.equal(code, 0, `the sidecar must survive all of it and stop cleanly; log:\n${sidecar.logs().slice(-2000)}`);
  });

  test('the CSRF repro: a look-alike loopback Origin with no Content-Type does not reach the tool', async () => {
    const csrf = await raw(sidecar.url, {
      path: '/tools/echo',
      headers: { host, origin: 'http://127.attacker.example', 'content-type': '' },
      body: '{"message":"csrf"}',
    });
    assert.equal(csrf.status, 403, csrf.body);
    assert.match(csrf.json().error.message, /Origin "http:\/\/127\.attacker\.example" is not allowed/);
    for (const origin of [
      'http://127.0.0.1.evil.com',
      'http://localhost.evil.com',
      'http://[::1].evil',
      'http://0x7f.0.0.1',
    ]) {
      assert.equal(
        (
          await raw(sidecar.url, {
            path: '/tools/echo',
            headers: { host, origin, 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
        403,
        origin,
      );
      assert.equal(
        (
          await mcp(
            { origin, 'content-type': 'application/json' },
            JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
          )
        ).status,
        403,
        origin,
      );
    }
  });

  test('POST /tools/:name and POST /mcp need Content-Type application/json: 415 says what to send', async () => {
    const origin = `http://${host}`; // a same-host page: allowed, so only the media type decides
    for (const type of [
      undefined,
      'text/plain',
      'application/jsonx',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const headers: Record<string, string> = { host, origin, ...(type === undefined ? {} : { 'content-type': type }) };
      const r = await raw(sidecar.url, { path: '/tools/echo', headers, body: '{"message":"csrf"}' });
      assert.equal(r.status, 415, `REST with Content-Type ${type}: ${r.body}`);
      assert.match(
        r.json().error,
        /Content-Type must be application\/json \(got .*\); send the tool arguments as a JSON object with Content-Type: application\/json/,
      );
      const m = await mcp(
        { origin, ...(type === undefined ? {} : { 'content-type': type }) },
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      );
      assert.equal(m.status, 415, `/mcp with Content-Type ${type}: ${m.body}`);
      assert.match(m.json().error.message, /Content-Type must be application\/json/);
    }
    // JSON in another charset, or content-coded: nothing here would read it right, so it is refused, saying why.
    for (const [headers, why] of [
      [{ 'content-type': 'application/json; charset=utf-16' }, /in UTF-8 \(got charset "utf-16"\)/],
      [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, /Content-Encoding "gzip" is not accepted/],
    ] as const) {
      const r = await raw(sidecar.url, { path: '/tools/echo', headers: { host, origin, ...headers }, body: '{}' });
      assert.equal(r.status, 415, r.body);
      assert.match(r.json().error, why);
      const m = await mcp({ origin, ...headers }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
      assert.equal(m.status, 415, m.body);
      assert.match(m.json().error.message, why);
    }
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON ; charset="UTF-8"',
      'application/json;charset=utf8',
    ]) {
      const r = await raw(sidecar.url, {
        path: '/tools/echo',
        headers: { host, origin, 'content-type': type },
        body: '{"message":"ok"}',
      });
      assert.equal(r.status, 200, `${type}: ${r.body}`);
      assert.equal(r.json().content[0].text, '{"message":"ok"}');
    }
  });

  test('bad percent-encoding in /tools/:name → 400 with a JSON error, not 500', async () => {
    for (const path of ['/tools/%E0%A4%A', '/tools/%', '/tools/%ZZ']) {
      const r = await raw(sidecar.url, { path, headers: { host, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      assert.match(r.json().error, /is not valid percent-encoding.*encodeURIComponent/);
    }
    assert.equal((await rest(sidecar.url, 'echo', { still: 'works' })).status, 200);
  });

  test('a body nesting deeper than --max-depth → 400 before anything is registered (-32600 on /mcp)', async () => {
    const deep = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"deep":${nested(5000)}}}}`;
    const r = await mcp({ 'content-type': 'application/json', 'mcp-protocol-version': client.protocolVersion }, deep);
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json().error.code, -32600);
    assert.match(r.json().error.message, /deeper than 64 levels \(--max-depth\)/);
    assert.equal(await metric(sidecar.url, 'mcp_sidecar_rpc_inflight'), 0, 'nothing stays in flight');
    const same = await client.request('tools/call', { name: 'echo', arguments: { id: 7 } }, { id: 7 });
    assert.equal(same.result.content[0].text, '{"id":7}', 'the session and even the same id go on');

    const restDeep = await rest(sidecar.url, 'echo', `{"deep":${nested(5000)}}`);
    assert.equal(restDeep.status, 400);
    assert.match(restDeep.body.error, /--max-depth/);
    assert.equal(
      (await rest(sidecar.url, 'echo', `{"deep":${nested(63)}}`)).status,
      200,
      '64 levels in all is the limit, and allowed',
    );
    assert.equal((await rest(sidecar.url, 'echo', `{"deep":${nested(64)}}`)).status, 400);
  });

  test('slowloris headers (idle, trickled, or none at all) → 408 naming --header-timeout, connection closed', async () => {
    const outcomes = await Promise.all([
      ...Array.from({ length: 10 }, () =>
        exchange(sidecar.url, (s) => s.write(`POST /mcp HTTP/1.1\r\nHost: ${host}\r\n`), 6000),
      ),
      ...Array.from({ length: 10 }, () =>
        exchange(
          sidecar.url,
          (s) => (s.write(`GET /tools HTTP/1.1\r\nHost: ${host}\r\nX-Pad: `), trickle(s, 100)),
          6000,
        ),
      ),
      exchange(sidecar.url, () => {}, 6000),
    ]);
    for (const o of outcomes) {
      assert.equal(o.status, 408, o.text);
      assert.match(bodyOf(o).error, /within 1000 ms \(--header-timeout\)/);
      assert.ok(
        o.closedAfterMs !== undefined && o.closedAfterMs >= 900 && o.closedAfterMs < 3000,
        `closed after ${o.closedAfterMs} ms`,
      );
    }
  });

  test('unfinished bodies (stalled or trickled) → 408 naming --body-timeout, connection closed', async () => {
    const head = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nMcp-Session-Id: ${client.sessionId}\r\nContent-Length: 1000\r\n\r\n{`;
    const outcomes = await Promise.all([
      ...Array.from({ length: 8 }, () => exchange(sidecar.url, (s) => s.write(head('/tools/echo')), 8000)),
      ...Array.from({ length: 8 }, () => exchange(sidecar.url, (s) => (s.write(head('/mcp')), trickle(s, 100)), 8000)),
    ]);
    for (const o of outcomes) {
      assert.equal(o.status, 408, o.text);
      assert.match(bodyOf(o).error, /whole request within 2000 ms \(--body-timeout\)/);
      assert.ok(
        o.closedAfterMs !== undefined && o.closedAfterMs >= 1900 && o.closedAfterMs < 4500,
        `closed after ${o.closedAfterMs} ms`,
      );
    }
    assert.equal((await rest(sidecar.url, 'echo', { after: 'timeouts' })).status, 200);
  });

  test('the body timeout never cuts a response: a GET stream, an SSE POST and a REST call outlive it', async () => {
    const stream = await SseReader.open(sidecar.url, {
      'mcp-session-id': client.sessionId!,
      'mcp-protocol-version': client.protocolVersion,
    });
    assert.equal(stream.status, 200);
    let streamEnded = false;
    void stream.ended().then(() => (streamEnded = true));
    const progress: unknown[] = [];
    const [sse, restSlow] = await Promise.all([
      client.request(
        'tools/call',
        { name: 'slow', arguments: { ms: 4500, steps: 9 }, _meta: { progressToken: 'edge' } },
        { onMessage: (m) => progress.push(m) },
      ),
      rest(sidecar.url, 'slow', { ms: 4500, steps: 3 }),
    ]);
    assert.equal(sse.result?.content[0].text, 'done', JSON.stringify(sse));
    assert.equal(progress.length, 9, 'every progress event of a 4.5 s SSE answer arrived');
    assert.equal(restSlow.status, 200);
    assert.equal(streamEnded, false, 'the GET stream is still open after 2 x --body-timeout');
    await client.request('tools/call', { name: 'notify-later', arguments: { count: 2, intervalMs: 20 } });
    await stream.waitForCount(2, 3000);
    await stream.close();
  });

  test('an idle keep-alive connection is not a slow request: it serves again after both timeouts passed', async () => {
    const o = await exchange(
      sidecar.url,
      (s) => {
        s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        setTimeout(() => s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 3000);
      },
      8000,
    );
    assert.equal(o.text.match(/HTTP\/1\.1 200 OK/g)?.length, 2, o.text);
    assert.doesNotMatch(o.text, /408/);
  });

  test('60 unfinished 3.9 MB bodies: past --max-body-reading 503 + Retry-After at once, RSS bounded, budget released', async (t) => {
    const size = Math.floor(3.9 * 1024 * 1024);
    const padding = Buffer.alloc(size - 1, ' '); // one shared buffer: the test's own memory stays small
    const head = `POST /tools/echo HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`;
    const before = rssBytes(sidecar.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(sidecar.pid))), 50);
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, () => exchange(sidecar.url, (s) => (s.write(head), s.write(padding)), 10_000)),
    );
    clearInterval(sampler);
    const busy = outcomes.filter((o) => o.status === 503);
    const late = outcomes.filter((o) => o.status === 408);
    assert.equal(busy.length + late.length, 60, outcomes.map((o) => o.text.slice(0, 40)).join('\n'));
    // Bytes count as they arrive: a body not all arrived within --body-timeout (slow machine) is a 408, not a 503.
    assert.ok(busy.length > 0, '234 MB sent at 16 MB of --max-body-reading, and not one body was refused');
    for (const o of busy) {
      assert.match(o.text, /retry-after: 1/i);
      assert.match(bodyOf(o).error, /--max-body-reading/);
      assert.equal(
        o.text.match(/HTTP\/1\.1 /g)?.length,
        1,
        `one answer only, even when the drained body then times out: ${o.text}`,
      );
    }
    assert.ok(
      outcomes.every((o) => o.closedAfterMs !== undefined),
      'every connection was closed by the sidecar',
    );
    assert.ok(Date.now() - started < 8000);
    const grew = (peak - before) / 1024 / 1024;
    t.diagnostic(
      `${busy.length} answered 503 at once, ${late.length} read until --body-timeout; RSS ${(before / 1024 / 1024).toFixed(0)} MB → peak ${(peak / 1024 / 1024).toFixed(0)} MB`,
    );
    // Unprotected, this load took the sidecar from 64 to 302 MB (all 60 bodies held). Now: the 16 MB budget, plus
    // the chunks drained from the refused bodies until the GC frees them (measured +62 MB on Node 20, +70 on 24).
    assert.ok(grew < 110, `sidecar RSS grew by ${grew.toFixed(0)} MB (from ${(before / 1024 / 1024).toFixed(0)} MB)`);

    // The timed-out bodies gave their budget back: four full bodies fit again, at once.
    const full = Buffer.concat([Buffer.from('{"message":"ok"}'), Buffer.alloc(size - 16, ' ')]);
    const again = await Promise.all(
      Array.from({ length: 4 }, () =>
        raw(sidecar.url, { path: '/tools/echo', headers: { host, 'content-type': 'application/json' }, body: full }),
      ),
    );
    assert.deepEqual(
      again.map((r) => r.status),
      [200, 200, 200, 200],
      again.map((r) => r.body.slice(0, 200)).join('\n'),
    );
  });
});

describe('--max-connections', () => {
  test('past the cap a connection is closed at once with no answer; a freed slot serves again', async (t) => {
    const sidecar = await launch(t, ['--max-connections', '4', '--', ...fixtureCommand('paged-tools')], {
      ready: false,
    });
    // Readiness over connections that close, so no pooled keep-alive connection of this process takes a slot.
    const readyz = `GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    await waitFor(
      async () => (await exchange(sidecar.url, (s) => s.write(readyz), 2000)).status === 200,
      20_000,
      'READY',
    );
    const held: Socket[] = [];
    t.after(() => held.forEach((s) => s.destroy()));
    const { hostname, port } = new URL(sidecar.url);
    for (let i = 0; i < 4; i++) {
      const socket = connect(Number(port), hostname);
      held.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('data', (d) => (String(d).startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(String(d)))));
        socket.once('error', reject);
        socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
    }
    const refused = await exchange(sidecar.url, (s) => s.write(readyz), 3000);
    assert.equal(refused.text, '', 'no HTTP answer at all');
    assert.ok(refused.closedAfterMs !== undefined && refused.closedAfterMs < 1000, 'closed at once');
    await assert.rejects(
      raw(sidecar.url, { method: 'GET', path: '/healthz', headers: { host: 'x', connection: 'close' } }),
      /socket hang up|ECONNRESET/,
    );
    held.pop()!.destroy();
    await waitFor(
      async () => (await exchange(sidecar.url, (s) => s.write(readyz), 2000)).status === 200,
      3000,
      'a freed slot to serve',
    );
    await waitFor(
      () => /refused connections: 4 were open \(--max-connections\)/.test(sidecar.logs()),
      2000,
      'the warning in the log',
    );
  });
});
