/**
 * Who is calling, as one string, for what must stay with one caller: a legacy session (another caller who learns
 * its id may not use it) and an MRTR requestState (another caller may not answer a call that asked someone else).
 */
import type { IncomingMessage } from 'node:http';
import { callerOf } from '../mcp/caller.js';

/**
 * The subject --auth jwt verified (so a refreshed token is still the same caller); a verified token without a
 * subject is its own identity. Without --auth jwt: the consumer Kong authenticated (its auth plugins set
 * X-Consumer-ID and drop one a client sent), else the credential itself (--auth bearer checked it). Undefined
 * when the request says nothing of its caller.
 */
export function callerIdentity(req: IncomingMessage): string | undefined {
  const caller = callerOf(req);
  if (caller?.sub) return `sub:${caller.sub}`;
  const authorization = req.headers.authorization;
  // Verified here: a header a client can set (X-Consumer-ID when not behind Kong) does not outrank it.
  if (caller && authorization) return `authorization:${authorization}`;
  const consumer = req.headers['x-consumer-id'];
  if (typeof consumer === 'string' && consumer) return `kong-consumer:${consumer}`;
  return authorization ? `authorization:${authorization}` : undefined;
}
