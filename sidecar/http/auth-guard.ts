/**
 * Who may call /mcp and /tools: with --auth bearer, a request must carry `Authorization: Bearer <token>` with a
 * token of the token file; else 401 with `WWW-Authenticate: Bearer` (RFC 6750), saying what was wrong without
 * repeating what was sent. The header stays here: only the JSON-RPC body ever reaches the MCP server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BearerTokens } from './bearer-tokens.js';
import { sendTransportError } from './reply.js';

export interface AuthRefusal {
  /** 401 (no or a bad credential; the default) or 403 (a good one without the rights). */
  status?: 401 | 403;
  message: string;
  /** The value of WWW-Authenticate. */
  challenge: string;
}

/** Decides whether a request may reach the MCP server (at once, or after e.g. fetching a key set). */
export interface Authenticator {
  refusal(req: IncomingMessage): AuthRefusal | undefined | Promise<AuthRefusal | undefined>;
  close(): void;
}

/** The token of an `Authorization: Bearer <token>` header, or the refusal that says what is wrong with it. */
export function bearerToken(req: IncomingMessage, challenge: string): string | AuthRefusal {
  const header = req.headers.authorization;
  if (header === undefined) {
    return { message: 'this sidecar needs Authorization: Bearer <token>', challenge };
  }
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) {
    return {
      message: 'the Authorization header must be "Bearer <token>" (other schemes are not accepted)',
      challenge: `${challenge}, error="invalid_request"`,
    };
  }
  return m[1];
}

const REALM = 'realm="mcp-sidecar"';

export function bearerAuthenticator(tokens: BearerTokens): Authenticator {
  return {
    refusal(req) {
      const token = bearerToken(req, `Bearer ${REALM}`);
      if (typeof token !== 'string') return token;
      if (tokens.accepts(token)) return undefined;
      return {
        message: 'the bearer token is not accepted (not in the --auth-token-file of this sidecar)',
        challenge: `Bearer ${REALM}, error="invalid_token"`,
      };
    },
    close: () => tokens.close(),
  };
}

export function unauthorized(res: ServerResponse, refusal: AuthRefusal): void {
  const status = refusal.status ?? 401;
  sendTransportError(res, status, `${status === 403 ? 'Forbidden' : 'Unauthorized'}: ${refusal.message}`, {
    'www-authenticate': refusal.challenge,
  });
}
