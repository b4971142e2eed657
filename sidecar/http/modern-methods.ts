/**
 * GET and DELETE on /mcp from a client that declares revision 2026-07-28 (its MCP-Protocol-Version header). The
 * revision removed the GET stream and sessions; its transport page (Backward Compatibility) says a server answers
 * GET or DELETE with 405 Method Not Allowed. Legacy clients keep both: their GET without a session stays a 400, as
 * 2025-11-25 says of any request without its session id and as the TypeScript SDK's stateful transport answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isModernVersion } from '../mcp/modern.js';
import { sendTransportError } from './reply.js';

/** Whether the request was answered 405 because its client speaks a revision without sessions. */
export function modernHasNoSessions(req: IncomingMessage, res: ServerResponse): boolean {
  const version = req.headers['mcp-protocol-version'];
  if (!isModernVersion(version)) return false;
  sendTransportError(
    res,
    405,
    `Method Not Allowed: MCP ${String(version)} has no sessions and no GET stream; POST each request (subscriptions/listen for notifications)`,
    // For this client the endpoint takes POST only (a legacy client's GET and DELETE still work).
    { allow: 'POST' },
  );
  return true;
}
