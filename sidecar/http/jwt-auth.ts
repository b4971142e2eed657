/**
 * --auth jwt: the sidecar as an OAuth 2.1 resource server, as the MCP authorization spec describes it. An access
 * token is a JWT signed by a key of the issuer's JWKS (fetched by `jose`, cached, fetched again for a key id it
 * does not hold, at most once a second), with `iss` the issuer, `aud` naming this server's resource URL
 * (RFC 8707), `exp`/`nbf` within a small leeway, and every required scope. The token is never logged and never
 * forwarded (only the JSON-RPC body reaches the server); the caller (subject and granted scopes) is tagged on the
 * request, so --tool-scope can decide per request which tools exist for it and its calls are logged with `sub`.
 *
 * Refusals follow RFC 6750 and RFC 9728: 401 with `WWW-Authenticate: Bearer resource_metadata="…"` pointing at
 * this server's protected resource metadata (`GET /.well-known/oauth-protected-resource`), so a client finds the
 * authorization server; 403 `insufficient_scope` with the scopes needed.
 */
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as Jose from 'jose';
import type { JWTPayload } from 'jose';
import type { Logger } from '../log.js';
import { tagCaller } from '../mcp/caller.js';
import { bearerToken, type Authenticator, type AuthRefusal } from './auth-guard.js';

export interface JwtOptions {
  issuer: string;
  jwksUrl: string;
  /** This server's resource URL as clients reach it (the audience tokens must name). */
  resource: string;
  scopes: string[];
}

/** The JWKS is fetched again for an unknown key id at most this often (a flood of made-up kids costs one a second). */
const JWKS_COOLDOWN_MS = 1000;
/** Clock skew tolerated on exp and nbf. */
const LEEWAY_SECONDS = 30;
/** Asymmetric algorithms only: `none` and HMAC (a shared secret the JWKS cannot hold) are refused. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * Where clients fetch the metadata: beside the resource, as a gateway route reaches the sidecar
 * (`https://gw/memory/mcp` → `https://gw/memory/.well-known/oauth-protected-resource`, which Kong's strip_path
 * route delivers to the sidecar as RESOURCE_METADATA_PATH).
 */
export function resourceMetadataUrl(resource: string): string {
  return new URL(`.${RESOURCE_METADATA_PATH}`, resource).href;
}

/** The protected resource metadata document (RFC 9728). */
export function resourceMetadata(opts: JwtOptions): Record<string, unknown> {
  return {
    resource: opts.resource,
    authorization_servers: [opts.issuer],
    bearer_methods_supported: ['header'],
    ...(opts.scopes.length > 0 && { scopes_supported: opts.scopes }),
  };
}

export function jwtAuthenticator(opts: JwtOptions, log: Logger): Authenticator {
  // Loaded with the first token: a sidecar without --auth jwt never loads jose.
  let loaded: Promise<{ jose: typeof Jose; keys: ReturnType<typeof Jose.createRemoteJWKSet> }> | undefined;
  const load = () =>
    (loaded ??= import('jose').then((jose) => ({
      jose,
      keys: jose.createRemoteJWKSet(new URL(opts.jwksUrl), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: 5000,
      }),
    })));
  const verify = async (token: string): Promise<JWTPayload> => {
    const { jose, keys } = await load();
    const check = () =>
      jose.jwtVerify(token, keys, {
        issuer: opts.issuer,
        audience: opts.resource,
        algorithms: ALGORITHMS,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp'],
      });
    try {
      return (await check()).payload;
    } catch (err) {
      // A key id unknown while the last fetch is fresh (the issuer rotated just now): once the cooldown is over,
      // jose fetches the set again; without this wait the first tokens of a rotation would be refused.
      if (!(err instanceof jose.errors.JWKSNoMatchingKey) || !keys.coolingDown) throw err;
      await sleep(JWKS_COOLDOWN_MS);
      return (await check()).payload;
    }
  };
  const challenge = `Bearer resource_metadata="${resourceMetadataUrl(opts.resource)}"`;
  const invalid = (message: string): AuthRefusal => ({ message, challenge: `${challenge}, error="invalid_token"` });
  return {
    async refusal(req: IncomingMessage) {
      const token = bearerToken(req, challenge);
      if (typeof token !== 'string') return token;
      let payload: JWTPayload;
      try {
        payload = await verify(token);
      } catch (err) {
        return invalid(whyInvalid(err, (await load()).jose.errors, opts));
      }
      const granted = new Set(String(payload.scope ?? '').split(' '));
      const missing = opts.scopes.filter((s) => !granted.has(s));
      if (missing.length > 0) {
        return {
          status: 403,
          message: `the access token lacks the scope ${missing.join(' ')}; ask the authorization server for it`,
          challenge: `${challenge}, error="insufficient_scope", scope="${opts.scopes.join(' ')}"`,
        };
      }
      log.debug({ sub: payload.sub, client: payload.client_id }, 'caller authenticated');
      tagCaller(req, { sub: typeof payload.sub === 'string' ? payload.sub : undefined, scopes: granted });
      return undefined;
    },
    close: () => {},
  };
}

/** What was wrong with a token, in words that name the claim and never repeat the token. */
function whyInvalid(err: unknown, errors: typeof Jose.errors, opts: JwtOptions): string {
  if (err instanceof errors.JWTExpired) return 'the access token has expired; get a new one';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return `the access token was not issued by ${opts.issuer}`;
    if (err.claim === 'aud')
      return `the access token is not for this resource (${opts.resource}); request it with resource=${opts.resource}`;
    if (err.claim === 'nbf') return 'the access token is not valid yet';
    return `the access token's ${err.claim} claim is not acceptable (${err.reason})`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return 'the access token must be signed with an asymmetric algorithm (RS256, ES256, …)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the access token signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey)
    return "the access token was signed with a key the issuer's JWKS does not hold";
  if (err instanceof errors.JWKSTimeout || (err as { code?: string }).code === 'ERR_JOSE_GENERIC')
    return `the issuer's key set (${opts.jwksUrl}) could not be read; try again shortly`;
  if (err instanceof errors.JOSEError) return `the access token is not a valid JWT (${err.code})`;
  return `the access token could not be checked (${(err as Error).message})`;
}
