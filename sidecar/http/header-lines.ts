/**
 * Header lines as they came: node joins a repeated header into one `a, b` value, or keeps only the first for the
 * headers it knows to be single (Host among them), so a repeat is seen only in `rawHeaders`.
 */
import type { IncomingMessage } from 'node:http';

/** How many lines of the request's head carry the header `name` (lowercase). A loop, no allocation. */
export function headerLines(req: IncomingMessage, name: string): number {
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (sameName(raw[i], name)) count++;
  return count;
}

/** Whether a header name as sent is `lower` (lowercase), compared ASCII-case-insensitively without a new string. */
function sameName(sent: string, lower: string): boolean {
  if (sent.length !== lower.length) return false;
  if (sent === lower) return true;
  for (let i = 0; i < lower.length; i++) {
    const c = sent.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Headers a request carries once (not lists), of which node keeps only the first line: a second one is a 400, or a
 * proxy in front (Kong) and this server could each act on a different one. Their names as the error says them.
 */
const SINGLE: ReadonlyArray<[string, string]> = [
  ['host', 'Host'],
  ['content-type', 'Content-Type'],
  ['authorization', 'Authorization'],
];

/** The first single-valued header (SINGLE) the request sends on more than one line, or undefined. One pass. */
export function repeatedSingleHeader(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    for (let k = 0; k < SINGLE.length; k++) {
      if (!sameName(raw[i], SINGLE[k][0])) continue;
      if (seen & (1 << k)) return SINGLE[k][1];
      seen |= 1 << k;
    }
  }
  return undefined;
}
