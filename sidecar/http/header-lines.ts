/**
 * Header lines as they came: node joins a repeated header into one `a, b` value, or keeps only the first for the
 * headers it knows to be single (Host among them), so a repeat is seen only in `rawHeaders`.
 */
import type { IncomingMessage } from 'node:http';

/** How many lines of the request's head carry the header `name` (lowercase). A loop, no allocation. */
export function headerLines(req: IncomingMessage, name: string): number {
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const line = raw[i];
    if (line.length === name.length && (line === name || line.toLowerCase() === name)) count++;
  }
  return count;
}
