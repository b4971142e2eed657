/**
 * What the fault scenarios send besides the load: raw HTTP requests whose answers are read as "<status> <body>"
 * so a verdict can look at both, and the few hostile bodies the issue describes.
 */
import { connect, type Socket } from 'node:net';
import { McpHttpClient } from '../../test/support/sidecar-process.js';

/** POST `path` with exactly these headers; resolves with "<status> <body>". */
export async function post(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body, signal });
  return `${res.status} ${await res.text()}`;
}

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export function statusOf(answer: string): number {
  return Number(answer.slice(0, answer.indexOf(' ')));
}

/** `depth` nested arrays as JSON text: `[[[…]]]`. */
export function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** A POST /mcp in an initialized session; resolves with "<status> <body>" (the body may be an SSE stream). */
export async function sessionPost(client: McpHttpClient, body: string, signal: AbortSignal): Promise<string> {
  const res = await client.post(body, {}, signal);
  return `${res.status} ${await res.text()}`;
}

/** A JSON-RPC error code in an answer's body (JSON or SSE), or undefined. */
export function rpcErrorCode(answer: string): number | undefined {
  const m = /"error":\{"code":(-?\d+)/.exec(answer);
  return m ? Number(m[1]) : undefined;
}

export function shortAnswer(answer: string): string {
  return answer.length > 160 ? `${answer.slice(0, 160)}…` : answer;
}

/** A TCP connection to the sidecar that has sent `head` and then reads nothing (paused) until told. */
export function rawConnection(url: string, head: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write(head);
      resolve(socket);
    });
    // an error after the connection is up (a reset by the sidecar) is what endsWithin looks for, not a crash
    socket.on('error', reject);
  });
}

/**
 * Whether the sidecar ends this connection within `ms`: reads (and drops) what it sent meanwhile, and resolves
 * true on its end or close, false if it is still open. The socket is destroyed either way.
 */
export function endsWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) return resolve(true);
    const timer = setTimeout(() => done(false), ms);
    const done = (ended: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ended);
    };
    socket.on('data', () => undefined);
    socket.once('end', () => done(true));
    socket.once('close', () => done(true));
    socket.once('error', () => done(true));
    socket.resume();
  });
}
