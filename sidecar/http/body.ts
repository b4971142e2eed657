/**
 * Reads request bodies as JSON under three limits, with errors that say what to change: the size of one body
 * (--max-body), the bytes being read at once over all connections (--max-body-reading), and how deeply the
 * JSON nests (--max-depth). The time a body may take is node's `requestTimeout` (see sidecar.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../mcp/jsonrpc.js';
import { nestsDeeperThan } from '../mcp/json-depth.js';

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 503,
    message: string,
    /** The JSON-RPC error code when the body was meant for /mcp. */
    readonly rpcCode: number = ErrorCode.TransportError,
    /** Headers the error answer carries (Retry-After on 503). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface BodyLimits {
  /** Largest single body (--max-body). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays (--max-depth). */
  maxDepth: number;
  /** Body bytes being read at once over all connections (--max-body-reading). */
  maxReadingBytes: number;
}

/**
 * One per sidecar, shared by /mcp and /tools: the global reading budget only means something if every body
 * is counted against the same one.
 */
export class BodyReader {
  /** Bytes reserved by bodies being read right now. */
  reading = 0;

  constructor(private readonly limits: BodyLimits) {}

  /** The parsed body, and its text (which tells integer ids beyond 2^53 exactly; see jsonrpc.ts keepBigIds). */
  async readJson(req: IncomingMessage): Promise<{ value: unknown; text: string }> {
    const text = await this.readText(req);
    if (text.trim() === '') return { value: undefined, text };
    // Before parsing: JSON.parse copes with any depth, but what walks the result later (stringify, schema
    // validation) recurses and overflows the stack on a few KB of brackets.
    if (nestsDeeperThan(text, this.limits.maxDepth)) {
      throw new BodyError(
        400,
        `request body nests deeper than ${this.limits.maxDepth} levels (--max-depth); send flatter JSON`,
        ErrorCode.InvalidRequest,
      );
    }
    try {
      return { value: JSON.parse(text), text };
    } catch (err) {
      throw new BodyError(400, `request body is not valid JSON: ${(err as Error).message}`, ErrorCode.ParseError);
    }
  }

  /**
   * The body as text. A declared length is reserved against the reading budget before a byte is read; a
   * chunked body reserves as it arrives. Past either limit the rest is drained (read and dropped, so the
   * client can read the answer, and bounded in time by --body-timeout) and the caller answers at once.
   */
  private readText(req: IncomingMessage): Promise<string> {
    const { maxBytes, maxReadingBytes } = this.limits;
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      req.resume();
      return Promise.reject(
        new BodyError(413, `request body is ${declared} bytes, over the limit of ${maxBytes} bytes (--max-body)`),
      );
    }
    const busy = () => {
      req.resume();
      return new BodyError(
        503,
        `the sidecar is reading ${maxReadingBytes} bytes of request bodies at once (--max-body-reading); retry shortly`,
        ErrorCode.TransportError,
        { 'retry-after': '1' },
      );
    };
    let reserved = 0;
    const reserve = (bytes: number): boolean => {
      if (this.reading + bytes > maxReadingBytes) return false;
      this.reading += bytes;
      reserved += bytes;
      return true;
    };
    if (declared > 0 && !reserve(declared)) return Promise.reject(busy());
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (error: Error | undefined) => {
        if (settled) return;
        settled = true;
        this.reading -= reserved;
        reserved = 0;
        req.off('data', onData);
        if (error) return reject(error);
        resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.resume();
          return settle(new BodyError(413, `request body is over the limit of ${maxBytes} bytes (--max-body)`));
        }
        if (size > reserved && !reserve(size - reserved)) return settle(busy());
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => settle(undefined));
      req.once('error', (err) => settle(err));
      // A connection that drops (or that --body-timeout closes) before the end: 'close' without 'end'.
      // (An Error captures a stack: built only when it is the answer, not on every request's normal close.)
      req.once('close', () => {
        if (!settled) settle(new BodyError(400, 'the client closed the connection before the request body ended'));
      });
    });
  }
}

/** Whether Content-Type names JSON: the media type `application/json`, parameters (charset) allowed. */
export function isJsonContentType(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  const semicolon = type.indexOf(';');
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}
