/**
 * Newline-delimited JSON framing for a child's stdout. MCP stdio puts one JSON message per line; anything else
 * on stdout is garbage that we count and log, never a reason to die. Lines longer than `maxLineBytes` are
 * dropped without buffering them whole; their head and tail are kept so the caller can still find the response
 * id (first in some SDKs' output, last in others') and fail that one request with a clear error instead of
 * letting it time out.
 */
import { MAX_SERVER_MESSAGE_DEPTH, nestsDeeperThan } from '../mcp/json-depth.js';

export interface FramerSink {
  /** `line`: the text it was parsed from (an integer beyond 2^53 in it has more digits than `value` holds). */
  message(value: unknown, line: string): void;
  garbage(line: string, reason: string): void;
  oversized(byteLength: number, tail: string, head: string): void;
  /** A line nesting deeper than MAX_SERVER_MESSAGE_DEPTH: relaying it could overflow the stack. */
  tooDeep(tail: string, head: string): void;
}

const TAIL_CHARS = 256;
const HEAD_CHARS = 256;

export class LineFramer {
  private partial = '';
  private partialBytes = 0;
  private discarding = false;
  private discardedBytes = 0;
  private discardTail = '';
  private discardHead = '';

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: FramerSink,
  ) {}

  /** Feed decoded text (the stream uses setEncoding('utf8') so multi-byte characters never split). */
  push(chunk: string): void {
    let start = 0;
    let nl = chunk.indexOf('\n');
    while (nl !== -1) {
      const piece = chunk.slice(start, nl);
      if (this.discarding) {
        this.finishDiscard(piece);
      } else if (this.partial.length > 0) {
        const line = this.partial + piece;
        this.partial = '';
        this.partialBytes = 0;
        this.line(line);
      } else {
        this.line(piece);
      }
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) this.keepPartial(chunk.slice(start));
  }

  private keepPartial(rest: string): void {
    if (this.discarding) {
      this.discardedBytes += Buffer.byteLength(rest);
      this.discardTail = (this.discardTail + rest).slice(-TAIL_CHARS);
      return;
    }
    this.partial += rest;
    this.partialBytes += Buffer.byteLength(rest);
    if (this.partialBytes > this.maxLineBytes) {
      this.discarding = true;
      this.discardedBytes = this.partialBytes;
      this.discardTail = this.partial.slice(-TAIL_CHARS);
      this.discardHead = this.partial.slice(0, HEAD_CHARS);
      this.partial = '';
      this.partialBytes = 0;
    }
  }

  private finishDiscard(lastPiece: string): void {
    const total = this.discardedBytes + Buffer.byteLength(lastPiece);
    const tail = (this.discardTail + lastPiece).slice(-TAIL_CHARS);
    const head = this.discardHead;
    this.discarding = false;
    this.discardedBytes = 0;
    this.discardTail = '';
    this.discardHead = '';
    this.sink.oversized(total, tail, head);
  }

  private line(text: string): void {
    // Tolerate CRLF and blank lines: some servers print them, and neither is a message.
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line.length === 0) return;
    if (line.length > this.maxLineBytes && Buffer.byteLength(line) > this.maxLineBytes) {
      this.sink.oversized(Buffer.byteLength(line), line.slice(-TAIL_CHARS), line.slice(0, HEAD_CHARS));
      return;
    }
    if (nestsDeeperThan(line, MAX_SERVER_MESSAGE_DEPTH)) {
      this.sink.tooDeep(line.slice(-TAIL_CHARS), line.slice(0, HEAD_CHARS));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      this.sink.garbage(line, `not JSON (${(err as Error).message})`);
      return;
    }
    if (value === null || typeof value !== 'object') {
      this.sink.garbage(line, 'JSON but not a JSON-RPC message object');
      return;
    }
    this.sink.message(value, line);
  }
}

/**
 * Finds the numeric id of a JSON-RPC response from the head of its serialized text: where the id is the first
 * key, or the second after "jsonrpc" (Python SDK and hand-written servers: `{"jsonrpc":"2.0","id":3,"result":…`).
 * Anchored at the start so an "id" inside the result is never taken for the response's.
 */
export function idFromHead(head: string): number | undefined {
  const m = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(\d+)\s*[,}]/.exec(head);
  return m ? Number(m[1]) : undefined;
}

/** Finds the id of a JSON-RPC response from the tail of its serialized text (ids sit last in TypeScript SDK output). */
export function idFromTail(tail: string): number | undefined {
  const m = /"id"\s*:\s*(\d+)\s*[,}][^"]*$/.exec(tail) ?? /"id"\s*:\s*(\d+)/.exec(tail);
  return m ? Number(m[1]) : undefined;
}
