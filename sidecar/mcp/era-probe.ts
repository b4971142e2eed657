/**
 * Which era of MCP a stdio server speaks, found the way revision 2026-07-28's stdio binding tells a dual-era
 * client to: send `server/discover` first; a `DiscoverResult` (or a recognized modern error such as
 * UnsupportedProtocolVersion) means a modern server; any other error, or silence, means a legacy server, which
 * then gets `initialize`. The answer is kept for the sidecar's life (`EraMemory`), as the binding suggests ("cache
 * the result for the server configuration, re-probe if the assumption later fails"): only the first process
 * started is probed; restarts, isolated session processes and warm spares go straight to the right handshake.
 */
import type { Logger } from '../log.js';
import type { HandshakePeer } from './handshake.js';
import { ErrorCode } from './jsonrpc.js';
import { META } from './modern.js';
import { MODERN_PROTOCOL_VERSIONS } from './protocol-versions.js';

export type ServerEra = 'legacy' | 'modern';

/** What the sidecar learned of its server's era, shared by every process of one server command. */
export interface EraMemory {
  era?: ServerEra;
}

/**
 * How long the first probe waits for an answer before taking the server for legacy. Servers built on an MCP SDK
 * answer an unknown method at once (-32601), so for them the probe costs one round trip on the pipe; this wait
 * is paid only by legacy servers that stay silent on requests before `initialize`, and only at the first start
 * (the era is remembered). A modern server slower than this to boot is still found: it refuses the fallback
 * `initialize` with a modern error, and the sidecar probes it again with the rest of --handshake-timeout.
 */
export const PROBE_TIMEOUT_MS = 1500;

/** A JSON-RPC error the sidecar's own request got (own-request.ts attaches the code). */
export interface RequestError extends Error {
  code?: number;
  data?: unknown;
}

/** The `_meta` a modern request of the sidecar's own carries: it introduces itself as a client. */
export function modernEnvelope(
  clientInfo: unknown,
  clientCapabilities: Record<string, unknown>,
  logLevel?: string,
): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    [META.protocolVersion]: MODERN_PROTOCOL_VERSIONS[0],
    [META.clientCapabilities]: clientCapabilities,
  };
  if (clientInfo !== undefined) meta[META.clientInfo] = clientInfo;
  if (logLevel !== undefined) meta[META.logLevel] = logLevel;
  return meta;
}

/** Whether an error is one only a modern server gives (then the server is modern, whatever failed). */
export function isModernError(err: unknown): boolean {
  return (err as RequestError | undefined)?.code === ErrorCode.UnsupportedProtocolVersion;
}

/**
 * `server/discover` within `timeoutMs`: the result for a modern server, undefined for a legacy one (an error that
 * is not modern, or no answer in time). A modern server that supports none of our modern versions is an error
 * naming the versions on both sides. The process exiting under the probe rejects (the caller decides).
 */
export async function probeEra(
  peer: HandshakePeer,
  meta: Record<string, unknown>,
  timeoutMs: number,
  log: Logger,
): Promise<Record<string, unknown> | undefined> {
  const started = performance.now();
  try {
    const result = await peer.request('server/discover', { _meta: meta }, timeoutMs);
    const versions = Array.isArray(result.supportedVersions) ? (result.supportedVersions as unknown[]) : [];
    if (!versions.some((v) => MODERN_PROTOCOL_VERSIONS.includes(v as string))) {
      if (versions.length === 0) return undefined; // a result, but not a DiscoverResult: not modern
      throw unsupported(versions);
    }
    log.debug({ ms: Math.round(performance.now() - started) }, 'server/discover answered: a modern MCP server');
    return result;
  } catch (err) {
    const error = err as RequestError;
    if (isModernError(error)) {
      const supported = (error.data as { supported?: unknown } | undefined)?.supported;
      throw unsupported(Array.isArray(supported) ? supported : []);
    }
    if (error.message.startsWith('server/discover failed') || / got no answer within /.test(error.message)) {
      log.debug(
        { ms: Math.round(performance.now() - started), why: error.message },
        'server/discover refused or unanswered: a legacy MCP server',
      );
      return undefined;
    }
    throw err;
  }
}

function unsupported(versions: unknown[]): Error {
  return new Error(
    `the MCP server speaks only protocol versions ${versions.map(String).join(', ') || '(none named)'}; the sidecar speaks ${MODERN_PROTOCOL_VERSIONS.join(', ')} and the legacy versions`,
  );
}
