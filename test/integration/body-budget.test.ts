/**
 * Reading request bodies against clients that do not send them: the --max-body-reading budget counts the bytes
 * that arrived (a declared Content-Length that never comes holds none of it), every way a body ends gives its
 * bytes back, and a client that leaves mid-body is not logged as a sidecar error. Each test is a reproduced
 * attack, run against the real sidecar process.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { callTool, launch, rest, session, sleep, textOf } from '../support/harness.js';
import { fixtureCommand, waitFor, type RunningSidecar } from '../support/sidecar-process.js';

const BUDGET = 256 * 1024;
const ACCEPT = 'application/json, text/event-stream';

interface OpenRequest {
  socket: Socket;
  /** Everything the sidecar sent, once the connection closed. */
  reply: Promise<string>;
}

/** POSTs `path` over a raw socket with `headers` and the start of a body; the test decides what comes next. */
function openRequest(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer,
): Promise<OpenRequest> {
  const { host, hostname, port } = new URL(url);
  const lines = Object.entries({ host, 'content-type': 'application/json', accept: ACCEPT, ...headers });
  const head = `POST ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {}); // the test closes some of these itself
    const reply = new Promise<string>((done) => socket.on('close', () => done(text)));
    socket.on('connect', () => {
      socket.write(head);
      socket.write(body);
      resolve({ socket, reply });
    });
  });
}

/** The sidecar's pino log lines, parsed. */
function logEntries(sidecar: RunningSidecar): Array<Record<string, any>> {
  return sidecar
    .logs()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return [];
      }
    });
}

test('bodies that declare the whole --max-body-reading budget and never send it hold none of it; bytes that arrive do, and every ending gives them back', async (t) => {
  const sidecar = await launch(t, [
    ...['--max-body', '256kb', '--max-body-reading', '256kb'],
    '--',
    ...fixtureCommand('paged-tools'),
  ]);
  const client = await session(t, sidecar.url);

  // The attack: 16 connections declare the whole budget each, send one byte, and idle (--body-timeout is 30 s).
  const idle = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      openRequest(sidecar.url, i % 2 === 0 ? '/mcp' : '/tools/echo', { 'content-length': String(BUDGET) }, '{'),
    ),
  );
  t.after(() => idle.forEach((r) => r.socket.destroy()));
  await sleep(500); // the sidecar has their headers and first bytes
  assert.equal(textOf(await callTool(client, 'echo', { during: 'attack' })), '{"during":"attack"}');
  const restCall = await rest(sidecar.url, 'echo', { during: 'attack' });
  assert.equal(restCall.status, 200, JSON.stringify(restCall.body));

  // Bytes that really arrive count: one body sends all but 12 KB of the budget (its last bytes never come).
  const heavy = await openRequest(
    sidecar.url,
    '/tools/echo',
    { 'content-length': String(BUDGET) },
    Buffer.alloc(BUDGET - 12 * 1024, ' '),
  );
  t.after(() => heavy.socket.destroy());
  const pad = ' '.repeat(16 * 1024);
  const refused = await waitFor(
    async () => {
      const r = await rest(sidecar.url, 'echo', { pad });
      return r.status === 503 ? r : undefined;
    },
    5000,
    'a 16 KB body refused while 244 KB of another one are being read',
  );
  const busy = /^the sidecar is reading 262144 bytes of request bodies at once \(--max-body-reading\); retry shortly$/;
  assert.match(refused.body.error, busy);
  assert.equal(refused.headers.get('retry-after'), '1');
  const refusedRpc = await client.post({
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name: 'echo', arguments: { pad } },
  });
  assert.equal(refusedRpc.status, 503);
  assert.match((await refusedRpc.json()).error.message, busy);
  // What is left of the budget still serves a small body.
  assert.equal((await rest(sidecar.url, 'echo', { small: true })).status, 200);

  // Every other way a body ends: aborted connections, 413 declared and counted, too deep, not JSON.
  heavy.socket.destroy();
  idle.forEach((r) => r.socket.destroy());
  assert.equal((await rest(sidecar.url, 'echo', `{"a":"${' '.repeat(BUDGET)}"}`)).status, 413);
  const chunked = await openRequest(
    sidecar.url,
    '/tools/echo',
    { 'transfer-encoding': 'chunked', connection: 'close' },
    `${(BUDGET + 1024).toString(16)}\r\n${' '.repeat(BUDGET + 1024)}\r\n0\r\n\r\n`,
  );
  assert.match(await chunked.reply, /^HTTP\/1\.1 413 [^]*over the limit of 262144 bytes \(--max-body\)/);
  assert.equal((await rest(sidecar.url, 'echo', `{"a":${'['.repeat(100)}${']'.repeat(100)}}`)).status, 400);
  assert.equal((await rest(sidecar.url, 'echo', '{"a":')).status, 400);
  assert.equal((await client.post('{"jsonrpc":')).status, 400);

  // Nothing leaked: a body of exactly the whole budget is read (a single byte still counted would refuse it).
  const whole = `{"message":"whole"${' '.repeat(BUDGET - 19)}}`;
  assert.equal(Buffer.byteLength(whole), BUDGET);
  const served = await waitFor(
    async () => {
      const r = await rest(sidecar.url, 'echo', whole);
      return r.status === 200 ? r : undefined;
    },
    5000,
    `a body of exactly --max-body-reading (${BUDGET} bytes) to be read once every other body ended`,
  );
  assert.equal(textOf(served.body), '{"message":"whole"}');
});

test('a client that closes the connection mid-body is logged at debug, not as a sidecar error; the sidecar keeps serving', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('paged-tools')], {
    env: { MCP_SIDECAR_LOG_LEVEL: 'debug' },
  });
  const client = await session(t, sidecar.url);
  const left = /^the client closed the connection before its request body arrived/;
  for (const path of ['/mcp', '/tools/echo']) {
    for (const close of ['end', 'reset'] as const) {
      const partial = await openRequest(sidecar.url, path, { 'content-length': '1000' }, '{"message":"par');
      await sleep(100); // the sidecar has started reading the body
      if (close === 'end') partial.socket.end();
      else partial.socket.resetAndDestroy();
      await partial.reply;
    }
  }
  const entries = await waitFor(
    () => {
      const all = logEntries(sidecar);
      return all.filter((e) => left.test(e.msg)).length >= 4 ? all : undefined;
    },
    5000,
    'four debug lines saying the client left',
  );
  for (const entry of entries.filter((e) => left.test(e.msg))) {
    assert.equal(entry.level, 20, JSON.stringify(entry));
    assert.equal(entry.err, undefined, `a client leaving is no error with a stack: ${JSON.stringify(entry)}`);
  }
  const errors = entries.filter((e) => e.level >= 50);
  assert.deepEqual(errors, [], 'no error-level log line');

  assert.equal(textOf(await callTool(client, 'echo', { after: 'aborts' })), '{"after":"aborts"}');
  assert.equal((await rest(sidecar.url, 'echo', { after: 'aborts' })).status, 200);
});
