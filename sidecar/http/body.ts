/**
 * Reads request bodies as JSON under three limits, with errors that say what to change: the size of one body
 * (--max-body), the body bytes received and not yet done with over all connections (--max-body-reading), and how
 * deeply the JSON nests (--max-depth). The time a body may take is node's `requestTimeout` (see sidecar.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
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
  /** Body bytes received and held at once over all connections, as they arrive (--max-body-reading). */
  maxReadingBytes: number;
}

/** How a body read ends: an error (BodyError, or the stream's), or the parsed value and its text. */
export type BodyDone = (
  req: IncomingMessage,
  res: ServerResponse | undefined,
  err: Error | undefined,
  value?: unknown,
  text?: string,
) => void;

/**
 * One per sidecar, shared by /mcp and /tools: the global reading budget only means something if every body
 * is counted against the same one.
 */
export class BodyReader {
  /** Bytes received of the bodies being read right now (0 when none is). */
  reading = 0;

  constructor(
    readonly limits: BodyLimits,
    /** Where a client that left mid-body is noted (at debug: it is not a fault of the sidecar's). */
    readonly log: Logger,
  ) {}

  /** The parsed body, and its text (which tells integer ids beyond 2^53 exactly; see big-integers.ts keepBigIntegers). */
  readJson(req: IncomingMessage): Promise<{ value: unknown; text: string }> {
    return new Promise((resolve, reject) =>
      this.read(req, undefined, (_req, _res, err, value, text) =>
        err ? reject(err) : resolve({ value, text: text! }),
      ),
    );
  }

  /**
   * readJson for the hot route, with a callback: no promise and no closure per request (the reading state is one
   * object, its listeners shared, and `done` one function for every request, given back `req` and `res`). `done`
   * is called once, at the latest synchronously from the request's 'end', and must not throw.
   */
  read(req: IncomingMessage, res: ServerResponse | undefined, done: BodyDone): void {
    const declared = Number(req.headers['content-length']);
    const { maxBytes } = this.limits;
    if (declared > maxBytes) {
      req.resume();
      return done(
        req,
        res,
        new BodyError(413, `request body is ${declared} bytes, over the limit of ${maxBytes} bytes (--max-body)`),
      );
    }
    // Nothing is reserved for the declared length: a client could then hold the whole budget by declaring large
    // bodies and sending a byte of each. The budget counts the bytes that arrive (BodyRead.data).
    (req as Reading)[READ] = new BodyRead(this, req, res, done);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    // A connection that drops (or that --body-timeout closes) before the end: 'close' without 'end'.
    req.on('close', onClose);
  }

  /** The body's text as JSON, within --max-depth. */
  parse(text: string): unknown {
    if (text.trim() === '') return undefined;
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
      return JSON.parse(text);
    } catch (err) {
      throw new BodyError(400, `request body is not valid JSON: ${(err as Error).message}`, ErrorCode.ParseError);
    }
  }
}

const READ = Symbol('body read');
type Reading = IncomingMessage & { [READ]?: BodyRead };

// The request's listeners: one function each for every request (an emitter calls them with itself as `this`).
function onData(this: Reading, chunk: Buffer): void {
  this[READ]?.data(chunk);
}
function onEnd(this: Reading): void {
  this[READ]?.end();
}
function onError(this: Reading, err: NodeJS.ErrnoException): void {
  // Node's "aborted" (ECONNRESET): the connection closed before the body ended. The client's doing, not a bug of
  // ours, so not an error to log (anyone could raise alerts with it).
  if (err.code === 'ECONNRESET') this[READ]?.left();
  else this[READ]?.settle(err);
}
function onClose(this: Reading): void {
  this[READ]?.left();
}

/**
 * One body being read. Past --max-body or the reading budget (--max-body-reading, counted as the bytes arrive)
 * the rest is drained (read and dropped, so the client can read the answer, and bounded in time by
 * --body-timeout) and the caller answers at once.
 */
class BodyRead {
  /** Bytes of this body counted in the reader's budget: those received and kept. */
  private held = 0;
  private size = 0;
  /** Most bodies arrive in one chunk: an array only from the second. */
  private first: Buffer | undefined;
  private more: Buffer[] | undefined;

  constructor(
    private readonly reader: BodyReader,
    private readonly req: Reading,
    private readonly res: ServerResponse | undefined,
    private readonly done: BodyDone,
  ) {}

  private hold(bytes: number): boolean {
    if (this.reader.reading + bytes > this.reader.limits.maxReadingBytes) return false;
    this.reader.reading += bytes;
    this.held += bytes;
    return true;
  }

  private busy(): BodyError {
    this.req.resume();
    return new BodyError(
      503,
      `the sidecar is reading ${this.reader.limits.maxReadingBytes} bytes of request bodies at once (--max-body-reading); retry shortly`,
      ErrorCode.TransportError,
      { 'retry-after': '1' },
    );
  }

  data(chunk: Buffer): void {
    this.size += chunk.length;
    const { maxBytes } = this.reader.limits;
    if (this.size > maxBytes) {
      this.req.resume();
      return this.settle(new BodyError(413, `request body is over the limit of ${maxBytes} bytes (--max-body)`));
    }
    // Counted as it arrives, so that only a client that really sends the bytes can use up the budget.
    if (!this.hold(chunk.length)) return this.settle(this.busy());
    if (this.first === undefined) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
  }

  end(): void {
    if (this.req[READ] !== this) return;
    this.release();
    const text =
      this.more !== undefined ? Buffer.concat(this.more).toString('utf8') : (this.first?.toString('utf8') ?? '');
    let value: unknown;
    try {
      value = this.reader.parse(text);
    } catch (err) {
      return this.done(this.req, this.res, err as Error);
    }
    this.done(this.req, this.res, undefined, value, text);
  }

  /** The connection closed before the body ended: the client left, or --body-timeout closed it. */
  left(): void {
    if (this.req[READ] !== this) return;
    const message = 'the client closed the connection before its request body arrived (or --body-timeout closed it)';
    this.reader.log.debug(
      { path: this.req.url, received: this.size, declared: this.req.headers['content-length'] },
      message,
    );
    // (An Error captures a stack: built only here, not on every request's normal close.)
    this.settle(new BodyError(400, message));
  }

  settle(error: Error): void {
    if (this.req[READ] !== this) return;
    this.release();
    this.req.off('data', onData);
    this.done(this.req, this.res, error);
  }

  /** Gives the budget back; the request's listeners then do nothing (it has no reading any more). */
  private release(): void {
    this.req[READ] = undefined;
    this.reader.reading -= this.held;
    this.held = 0;
  }
}

/**
 * Why a request's body cannot be read here as JSON (answer 415), or undefined: the media type must be
 * `application/json`, its charset (when named) UTF-8, as RFC 8259 requires of JSON between systems, and the body
 * not content-coded (nothing is decompressed: a gzip body would be read as text, a mislabeled one taken as is).
 */
export function jsonBodyProblem(req: IncomingMessage): string | undefined {
  const type = req.headers['content-type'];
  if (type === undefined) return 'Content-Type must be application/json (got none)';
  const semicolon = type.indexOf(';');
  if ((semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() !== 'application/json')
    return `Content-Type must be application/json (got "${type}")`;
  const charset = semicolon === -1 ? undefined : CHARSET.exec(type.slice(semicolon))?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset))
    return `Content-Type must be application/json in UTF-8 (got charset "${charset}")`;
  const coding = req.headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    return `Content-Encoding "${coding}" is not accepted; send the body uncompressed`;
  return undefined;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
