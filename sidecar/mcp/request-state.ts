/**
 * The `requestState` of an InputRequiredResult (MCP 2026-07-28 Multi Round-Trip Requests). The client echoes it
 * on its retry and may have changed it, so it is signed with HMAC-SHA256 and says exactly what it was issued
 * for: the instance that holds the pending call, the call's handle and round, the request (method and a digest
 * of its salient params), an expiry, and the caller when the request named one. Nothing in it is secret (the
 * call lives here; the state only points at it), so it is signed, not encrypted.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JsonRpcRequest } from './jsonrpc.js';

export interface StateClaims {
  /** The sidecar instance that holds the pending call. */
  owner: string;
  /** The pending call at that instance (random, so not guessable). */
  handle: string;
  /** Which InputRequiredResult of the call it answers: an older state cannot be replayed. */
  round: number;
  method: string;
  /** Digest of the request's salient params (see paramsDigest). */
  digest: string;
  /** Milliseconds since the epoch after which the state is refused. */
  expires: number;
  /** Digest of the caller's identity, when the request carried one. */
  caller?: string;
}

export class RequestStateSeal {
  private readonly key: Buffer;

  /** `key`: the shared --state-key-file key, or none for a random key of this process only. */
  constructor(key?: Buffer) {
    this.key = key ?? randomBytes(32);
  }

  seal(claims: StateClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The claims of a state this key signed; undefined when it was not signed so (tampered, or another key). */
  open(state: string): StateClaims | undefined {
    const dot = state.indexOf('.');
    if (dot < 0) return undefined;
    const body = state.slice(0, dot);
    const given = Buffer.from(state.slice(dot + 1), 'base64url');
    const wanted = this.mac(body);
    // base64url decoding skips what is not base64url, so the text is compared too, not only the bytes.
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    if (state.slice(dot + 1) !== wanted.toString('base64url')) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StateClaims;
      return typeof claims === 'object' && claims !== null && typeof claims.handle === 'string' ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }
}

/**
 * What a retry must repeat of the original request: the method, the tool or prompt name or resource URI, and
 * the arguments (canonical JSON, so that a client that re-serializes in another key order still matches).
 * `_meta`, `inputResponses` and `requestState` change from round to round and are left out.
 */
export function paramsDigest(request: JsonRpcRequest): string {
  const params = request.params ?? {};
  const salient = { method: request.method, name: params.name, uri: params.uri, arguments: params.arguments };
  return createHash('sha256').update(canonical(salient)).digest('base64url');
}

/** A digest of a caller identity (a credential is never put in the state as it is). */
export function callerDigest(identity: string | undefined): string | undefined {
  return identity === undefined ? undefined : createHash('sha256').update(identity).digest('base64url');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** How a refusal names the instance whose call a state names (here, and where a replica forwards the retry). */
export function waitingAt(owner: string): string {
  return `requestState belongs to a call waiting at mcp-sidecar instance "${owner}"`;
}

/** Why verified claims do not fit this retry (another instance, expired, another request or caller), if they do not. */
export function claimsProblem(
  claims: StateClaims,
  request: JsonRpcRequest,
  owner: string,
  identity: string | undefined,
): { why: string; data?: unknown } | undefined {
  if (claims.owner !== owner) {
    return {
      why: `${waitingAt(claims.owner)}, not at this one ("${owner}"); the retry must reach that instance`,
      data: { owner: claims.owner },
    };
  }
  if (Date.now() > claims.expires)
    return { why: 'requestState expired (--input-wait); send the request again without requestState' };
  if (claims.method !== request.method || claims.digest !== paramsDigest(request)) {
    return {
      why: 'requestState was issued for another request: a retry repeats the method, name or uri, and arguments of the request that got the InputRequiredResult',
    };
  }
  if (claims.caller !== callerDigest(identity)) return { why: 'requestState was issued to another caller' };
  return undefined;
}
