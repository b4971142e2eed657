/**
 * Who may call /mcp and /tools: with --auth bearer, a request must carry `Authorization: Bearer <token>` with a
 * token of the token file; else 401 with `WWW-Authenticate: Bearer` (RFC 6750), saying what was wrong without
 * repeating what was sent. The header stays here: only the JSON-RPC body ever reaches the MCP server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BearerTokens } from './bearer-tokens.js';
import { sendTransportError } from './reply.js';

export interface AuthRefusal {
  message: string;
  /** The value of WWW-Authenticate. */
  challenge: string;
}

/** Decides whether a request may reach the MCP server. */
export interface Authenticator {
  refusal(req: IncomingMessage): AuthRefusal | undefined;
  close(): void;
}

const REALM = 'realm="mcp-sidecar"';

export function bearerAuthenticator(tokens: BearerTokens): Authenticator {
  return {
    refusal(req) {
      const header = req.headers.authorization;
      if (header === undefined) {
        return {
          message: 'this sidecar needs Authorization: Bearer <token> (it runs with --auth bearer)',
          challenge: `Bearer ${REALM}`,
        };
      }
      const m = /^Bearer +([^\s]+) *$/i.exec(header);
      if (!m) {
        return {
          message: 'the Authorization header must be "Bearer <token>" (other schemes are not accepted)',
          challenge: `Bearer ${REALM}, error="invalid_request"`,
        };
      }
      if (tokens.accepts(m[1])) return undefined;
      return {
        message: 'the bearer token is not accepted (not in the --auth-token-file of this sidecar)',
        challenge: `Bearer ${REALM}, error="invalid_token"`,
      };
    },
    close: () => tokens.close(),
  };
}

export function unauthorized(res: ServerResponse, refusal: AuthRefusal): void {
  sendTransportError(res, 401, `Unauthorized: ${refusal.message}`, { 'www-authenticate': refusal.challenge });
}
