/**
 * The MCP handshake as a client, in the server's era: `initialize` and `notifications/initialized` (legacy) or
 * `server/discover` (modern, MCP 2026-07-28), then every page of the lists the server's capabilities announce.
 * Its result is the server's profile: what the registries publish and what shared sessions are answered from.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log.js';
import type { JsonRpcNotification } from './jsonrpc.js';
import { isModernError, modernEnvelope, PROBE_TIMEOUT_MS, probeEra, type EraMemory } from './era-probe.js';
import { META } from './modern.js';
import { toolsHash, type ServerProfile } from './profile.js';
import { LATEST_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS } from './protocol-versions.js';
import type { ToolPolicy } from './tool-policy.js';

/** What the handshake needs of the process: the sidecar's own requests to it, and one-way messages. */
export interface HandshakePeer {
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
  send(message: JsonRpcNotification): unknown;
}

/**
 * What the sidecar tells a server it can do. Sampling and elicitation are relayed to whichever client caused
 * the request (or answered with an error when none can); roots are not claimed, because a server that asks for
 * roots at start-up would get an answer no client gave.
 */
export const SIDECAR_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

const MAX_LIST_PAGES = 1000;

export interface HandshakeResult {
  profile: ServerProfile;
  /** The server's own initialize result (isolated mode returns it to the client that sent initialize). */
  initializeResult: Record<string, unknown> | undefined;
}

export interface HandshakeOptions {
  timeoutMs: number;
  clientInfo: { name: string; version: string };
  clientInitialize?: Record<string, unknown>;
  /** The tools callers may see (--tools-allow/--tools-deny); the profile holds only those. */
  tools?: ToolPolicy;
  /** The server's era as far as the sidecar knows it (shared by its processes); probed when unknown. */
  era?: EraMemory;
}

/**
 * Runs the handshake within `timeoutMs`, in the server's era: probed with `server/discover` the first time (see
 * era-probe.ts), then remembered. `clientInitialize`: the client's own initialize params (isolated mode, legacy
 * servers; a modern server has no initialize, so its session processes are handshaken like any other);
 * otherwise the sidecar introduces itself as `clientInfo`.
 */
export async function handshake(peer: HandshakePeer, opts: HandshakeOptions, log: Logger): Promise<HandshakeResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  const memory = opts.era ?? {};
  const meta = modernEnvelope(opts.clientInfo, SIDECAR_CLIENT_CAPABILITIES);
  if (memory.era !== 'legacy') {
    const wait = memory.era === 'modern' ? remaining() : Math.min(PROBE_TIMEOUT_MS, remaining());
    const discovered = await probeEra(peer, meta, wait, log).catch((err: Error) => {
      // A server that exits on a request it does not know before `initialize` is a legacy one: its restart
      // goes straight to initialize.
      if (memory.era === undefined && /MCP server process|not running/.test(err.message)) memory.era = 'legacy';
      throw err;
    });
    if (discovered) return modern(peer, discovered, meta, memory, opts, remaining, log);
  }
  try {
    const result = await legacyHandshake(peer, opts, remaining, log);
    memory.era = 'legacy';
    return result;
  } catch (err) {
    // A modern server that was slower to boot than the probe (or one where the remembered era was wrong):
    // it refuses initialize with a modern error. Probe again with the rest of the time.
    if (!isModernError(err)) throw err;
    const discovered = await probeEra(peer, meta, remaining(), log);
    if (!discovered) throw err;
    return modern(peer, discovered, meta, memory, opts, remaining, log);
  }
}

async function modern(
  peer: HandshakePeer,
  discovered: Record<string, unknown>,
  meta: Record<string, unknown>,
  memory: EraMemory,
  opts: HandshakeOptions,
  remaining: () => number,
  log: Logger,
): Promise<HandshakeResult> {
  memory.era = 'modern';
  const identity =
    (discovered._meta as Record<string, unknown> | undefined)?.[META.serverInfo] ?? discovered.serverInfo;
  if (typeof identity !== 'object' || identity === null) throw new Error('server/discover result names no serverInfo');
  const head = { era: 'modern', serverInfo: identity, protocolVersion: MODERN_PROTOCOL_VERSIONS[0] } as const;
  const profile = await readProfile(peer, head, discovered, remaining, opts.tools, log, { _meta: meta });
  return { profile, initializeResult: undefined };
}

async function legacyHandshake(
  peer: HandshakePeer,
  opts: HandshakeOptions,
  remaining: () => number,
  log: Logger,
): Promise<HandshakeResult> {
  const params = opts.clientInitialize ?? {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: SIDECAR_CLIENT_CAPABILITIES,
    clientInfo: opts.clientInfo,
  };
  const init = await peer.request('initialize', params, remaining());
  if (typeof init.protocolVersion !== 'string' || typeof init.serverInfo !== 'object' || init.serverInfo === null) {
    throw new Error('initialize result lacks protocolVersion or serverInfo: is this an MCP server?');
  }
  peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const head = { era: 'legacy', serverInfo: init.serverInfo, protocolVersion: init.protocolVersion } as const;
  return { profile: await readProfile(peer, head, init, remaining, opts.tools, log), initializeResult: init };
}

/**
 * The profile: who the server is (`head`), what it described of itself (its initialize or discover result:
 * capabilities, instructions), and every page of the lists its capabilities announce (`base`: params every list
 * request carries).
 */
async function readProfile(
  peer: HandshakePeer,
  head: { era: ServerProfile['era']; serverInfo: object; protocolVersion: string },
  described: Record<string, unknown>,
  remaining: () => number,
  policy: ToolPolicy | undefined,
  log: Logger,
  base?: Record<string, unknown>,
): Promise<ServerProfile> {
  const capabilities = (described.capabilities ?? {}) as Record<string, unknown>;
  const listed = capabilities.tools ? await listAll<Tool>(peer, 'tools/list', 'tools', remaining, base) : [];
  const tools = policy ? policy.filter(listed) : listed;
  const optional = async <T>(method: string, key: string, enabled: unknown): Promise<T[]> => {
    if (!enabled) return [];
    try {
      return await listAll<T>(peer, method, key, remaining, base);
    } catch (err) {
      // Prompts and resources are informational for the mesh; a server that fails them still serves tools.
      log.warn({ err: (err as Error).message }, `${method} failed during the handshake; continuing without it`);
      return [];
    }
  };
  const prompts = await optional<Prompt>('prompts/list', 'prompts', capabilities.prompts);
  const resources = await optional<Resource>('resources/list', 'resources', capabilities.resources);
  const resourceTemplates = await optional<ResourceTemplate>(
    'resources/templates/list',
    'resourceTemplates',
    capabilities.resources,
  );
  return {
    ...head,
    serverInfo: head.serverInfo as ServerProfile['serverInfo'],
    capabilities,
    instructions: typeof described.instructions === 'string' ? described.instructions : undefined,
    tools,
    prompts,
    resources,
    resourceTemplates,
    toolsHash: toolsHash(tools),
  };
}

/** Every page of a list, following `nextCursor` (bounded, so a server that loops its cursor cannot hang us). */
export async function listAll<T>(
  peer: HandshakePeer,
  method: string,
  key: string,
  remaining: () => number,
  base?: Record<string, unknown>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const params = cursor ? { ...base, cursor } : base;
    const result = await peer.request(method, params, remaining());
    const list = result[key];
    if (!Array.isArray(list)) throw new Error(`${method} result has no "${key}" array`);
    items.push(...(list as T[]));
    cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
    if (!cursor) return items;
  }
  throw new Error(`${method} still returned a nextCursor after ${MAX_LIST_PAGES} pages`);
}

/** The profile with a fresh tool list (after `notifications/tools/list_changed`); undefined if it could not be read. */
export async function rereadTools(
  peer: HandshakePeer,
  profile: ServerProfile,
  timeoutMs: number,
  log: Logger,
  policy?: ToolPolicy,
  base?: Record<string, unknown>,
): Promise<ServerProfile | undefined> {
  try {
    const listed = await listAll<Tool>(peer, 'tools/list', 'tools', () => timeoutMs, base);
    const tools = policy ? policy.filter(listed) : listed;
    return { ...profile, tools, toolsHash: toolsHash(tools) };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not re-read tools after tools/list_changed; keeping the old list');
    return undefined;
  }
}
