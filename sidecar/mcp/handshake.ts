/**
 * The MCP handshake as a client: `initialize`, `notifications/initialized`, then every page of the lists the
 * server's capabilities announce. Its result is the server's profile: what the registries publish and what
 * shared sessions are answered from.
 */
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../log.js';
import type { JsonRpcNotification } from './jsonrpc.js';
import { toolsHash, type ServerProfile } from './profile.js';
import { LATEST_PROTOCOL_VERSION } from './protocol-versions.js';
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
const SIDECAR_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };

const MAX_LIST_PAGES = 1000;

export interface HandshakeResult {
  profile: ServerProfile;
  /** The server's own initialize result (isolated mode returns it to the client that sent initialize). */
  initializeResult: Record<string, unknown>;
}

/**
 * Runs the handshake within `timeoutMs`. `clientInitialize`: the client's own initialize params (isolated mode);
 * otherwise the sidecar introduces itself as `clientInfo`.
 */
export async function handshake(
  peer: HandshakePeer,
  opts: {
    timeoutMs: number;
    clientInfo: { name: string; version: string };
    clientInitialize?: Record<string, unknown>;
    /** The tools callers may see (--tools-allow/--tools-deny); the profile holds only those. */
    tools?: ToolPolicy;
  },
  log: Logger,
): Promise<HandshakeResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
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
  const capabilities = (init.capabilities ?? {}) as Record<string, unknown>;
  const listed = capabilities.tools ? await listAll<Tool>(peer, 'tools/list', 'tools', remaining) : [];
  const tools = opts.tools ? opts.tools.filter(listed) : listed;
  const optional = async <T>(method: string, key: string, enabled: unknown): Promise<T[]> => {
    if (!enabled) return [];
    try {
      return await listAll<T>(peer, method, key, remaining);
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
  const profile: ServerProfile = {
    serverInfo: init.serverInfo as ServerProfile['serverInfo'],
    protocolVersion: init.protocolVersion,
    capabilities,
    instructions: typeof init.instructions === 'string' ? init.instructions : undefined,
    tools,
    prompts,
    resources,
    resourceTemplates,
    toolsHash: toolsHash(tools),
  };
  return { profile, initializeResult: init };
}

/** Every page of a list, following `nextCursor` (bounded, so a server that loops its cursor cannot hang us). */
export async function listAll<T>(
  peer: HandshakePeer,
  method: string,
  key: string,
  remaining: () => number,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await peer.request(method, cursor ? { cursor } : undefined, remaining());
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
): Promise<ServerProfile | undefined> {
  try {
    const listed = await listAll<Tool>(peer, 'tools/list', 'tools', () => timeoutMs);
    const tools = policy ? policy.filter(listed) : listed;
    return { ...profile, tools, toolsHash: toolsHash(tools) };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not re-read tools after tools/list_changed; keeping the old list');
    return undefined;
  }
}
