/**
 * Content negotiation on /mcp (RFC 9110 §12.5.1): the Accept header parsed into media ranges and weights,
 * case-insensitively, quoted parameters and all. The transport says the client MUST list `application/json` and
 * `text/event-stream` (a GET, `text/event-stream`); the server takes what RFC 9110 says the header means: each type
 * must be admitted by its most specific range (the type itself, else its family wildcard, else the any-type
 * wildcard) with a weight above 0. So the any-type Accept of curl, httpx and requests is served, as the Python SDK's
 * server does, while `q=0` refuses.
 * A client sends the same Accept on every request: the last value's verdict is kept, so the hot path compares one
 * string.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendTransportError } from './reply.js';

/** The media types a route needs the client to accept, with the verdict on the last Accept value seen. */
export class Acceptance {
  private lastAccept: string | undefined;
  private lastRefusal: string | undefined;

  constructor(
    private readonly types: readonly string[],
    /** What the 406 says before the reason. */
    private readonly rule: string,
  ) {
    this.lastAccept = types.join(', ');
    this.lastRefusal = undefined;
  }

  /** Whether the request was answered 406 because its Accept does not admit every type. */
  refused(req: IncomingMessage, res: ServerResponse): boolean {
    const refusal = this.refusal(req.headers.accept);
    if (refusal) sendTransportError(res, 406, `Not Acceptable: ${this.rule} (${refusal})`);
    return refusal !== undefined;
  }

  /** Why `accept` does not admit every type (the end of a 406 message), or undefined when it does. */
  refusal(accept: string | undefined): string | undefined {
    if (accept === this.lastAccept) return this.lastRefusal;
    const refusal = refusalOf(accept, this.types);
    this.lastAccept = accept;
    this.lastRefusal = refusal;
    return refusal;
  }
}

export const POST_ACCEPT = new Acceptance(
  ['application/json', 'text/event-stream'],
  'the client must accept both application/json and text/event-stream',
);
export const GET_ACCEPT = new Acceptance(
  ['text/event-stream'],
  'GET /mcp opens an SSE stream; send Accept: text/event-stream',
);

function refusalOf(accept: string | undefined, types: readonly string[]): string | undefined {
  if (accept === undefined) return 'no Accept header';
  const ranges = mediaRanges(accept);
  if (typeof ranges === 'string') return ranges;
  for (const type of types) {
    const weight = weightOf(type, ranges);
    if (weight === undefined) return `Accept does not list ${type}`;
    if (weight === 0) return `Accept gives ${type} q=0, which means not acceptable`;
  }
  return undefined;
}

/** The weight the most specific range matching `type` gives it (RFC 9110 §12.5.1), or undefined when none does. */
function weightOf(type: string, ranges: Array<[string, number]>): number | undefined {
  const family = `${type.slice(0, type.indexOf('/'))}/*`;
  let exact: number | undefined;
  let partial: number | undefined;
  let any: number | undefined;
  for (const [range, weight] of ranges) {
    // Of repeated ranges the lowest weight counts: a client that says q=0 anywhere for a type means it.
    if (range === type) exact = Math.min(exact ?? 1, weight);
    else if (range === family) partial = Math.min(partial ?? 1, weight);
    else if (range === '*/*') any = Math.min(any ?? 1, weight);
  }
  return exact ?? partial ?? any;
}

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const RANGE = /^(?:\*\/\*|[!#$%&'*+.^_`|~0-9a-z-]+\/(?:\*|[!#$%&'*+.^_`|~0-9a-z-]+))$/;
/** §12.4.2 qvalue: 0 to 1, at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Each media range of an Accept value (lowercased) with its weight, or why the value is not an Accept list. */
export function mediaRanges(accept: string): Array<[string, number]> | string {
  const ranges: Array<[string, number]> = [];
  const n = accept.length;
  let i = 0;
  const ows = () => {
    while (i < n && (accept[i] === ' ' || accept[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && TCHAR.test(accept[i])) i++;
    return accept.slice(start, i);
  };
  while (i < n) {
    ows();
    if (accept[i] === ',' || i >= n) {
      i++; // an empty list element (RFC 9110 §5.6.1)
      continue;
    }
    const start = i;
    while (i < n && (TCHAR.test(accept[i]) || accept[i] === '/')) i++;
    const range = accept.slice(start, i).toLowerCase();
    if (!RANGE.test(range))
      return `Accept holds ${JSON.stringify(accept.slice(start, i + 1))}, not a media range (type/subtype)`;
    let weight = 1;
    for (ows(); i < n && accept[i] !== ','; ows()) {
      if (accept[i] !== ';') return `Accept has ${JSON.stringify(accept[i])} after ${range} where ";" or "," belongs`;
      i++;
      ows();
      if (i >= n || accept[i] === ',' || accept[i] === ';') continue; // an empty parameter (RFC 9110 §5.6.6)
      const name = token().toLowerCase();
      if (name === '' || accept[i] !== '=') return `Accept has a parameter of ${range} that is not name=value`;
      i++;
      let value: string;
      if (accept[i] === '"') {
        const end = /^"(?:[^"\\]|\\.)*"/.exec(accept.slice(i));
        if (!end) return `Accept has an unterminated quoted parameter of ${range}`;
        value = end[0];
        i += value.length;
      } else value = token();
      if (name === 'q') {
        if (!QVALUE.test(value))
          return `Accept gives ${range} q=${value}; a weight is 0 to 1 with at most three decimals`;
        weight = Number(value);
      }
    }
    ranges.push([range, weight]);
  }
  return ranges;
}
