/**
 * The Consul service definition for one sidecar instance, as pure functions of the instance and the server's
 * profile: what `PUT /v1/agent/service/register` receives. Kept apart from the publisher's loop so the shape
 * (tags, meta within Consul's limits, the two checks) can be read and tested without any network.
 */
import type { Instance, WorkerHealth } from './publisher.js';
import type { ServerProfile } from '../mcp/profile.js';
import { servedProtocolVersions } from '../mcp/protocol-versions.js';

/** Consul's limits on service meta (agent/structs validateMetaPair): keys, key length, value bytes. */
export const META_MAX_KEYS = 64;
export const META_KEY_MAX_LENGTH = 128;
export const META_VALUE_MAX_BYTES = 512;
const META_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Tool tags beyond this many are left out (meta says so): a server with thousands of tools would otherwise make
 * every catalog answer and DNS lookup for the service huge. The full list stays available from the server.
 */
export const MAX_TOOL_TAGS = 500;

export const TRANSPORT_TAG = 'transport:streamable-http';
export const TOOL_TAG_PREFIX = 'mcp-tool:';
/**
 * The sidecar serves both protocol eras on /mcp: legacy clients with sessions (`initialize`, Mcp-Session-Id) and
 * 2026-07-28 clients statelessly. Discovery can select on the tag; the versions are in meta.
 */
export const ERA_TAG = 'mcp-era:dual';

export interface CheckSettings {
  checkTtlMs: number;
  deregisterAfterMs: number;
  readyzUrl: string;
  tags: string[];
}

export interface ServiceRegistration {
  ID: string;
  Name: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  Checks: Array<Record<string, unknown>>;
}

export const pingCheckId = (serviceId: string) => `${serviceId}:mcp-ping`;
export const readyzCheckId = (serviceId: string) => `${serviceId}:readyz`;

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character, marking the cut with "…". */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const ellipsis = '…';
  let budget = maxBytes - Buffer.byteLength(ellipsis);
  let out = '';
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (size > budget) break;
    out += ch;
    budget -= size;
  }
  return out + ellipsis;
}

/**
 * Meta that Consul accepts whatever the server reports: invalid keys are rewritten, values cut to the byte
 * limit, keys past the limit dropped (callers order pairs by importance). Never a reason for a 400.
 */
export function consulMeta(pairs: Array<[string, string]>): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [rawKey, value] of pairs) {
    if (Object.keys(meta).length >= META_MAX_KEYS) break;
    let key = rawKey.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, META_KEY_MAX_LENGTH);
    if (key.toLowerCase().startsWith('consul-')) key = `x-${key}`.slice(0, META_KEY_MAX_LENGTH);
    if (!META_KEY.test(key) || key in meta) continue;
    meta[key] = truncateUtf8(value, META_VALUE_MAX_BYTES);
  }
  return meta;
}

/** Names joined by commas, cut at a name boundary so no half name is ever listed ("…" marks the cut). */
export function commaList(names: readonly string[], maxBytes: number): { text: string; complete: boolean } {
  let text = '';
  for (let i = 0; i < names.length; i++) {
    const next = text ? `${text},${names[i]}` : names[i];
    // Room for the marker that says more names exist.
    const reserve = i < names.length - 1 ? Buffer.byteLength(',…') : 0;
    if (Buffer.byteLength(next) + reserve > maxBytes) return { text: text ? `${text},…` : '…', complete: false };
    text = next;
  }
  return { text, complete: true };
}

/** A tag Consul and its DNS interface handle well: no whitespace or control characters. */
function tagSafe(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '_');
}

export function serviceTags(
  instance: Instance,
  profile: ServerProfile,
  userTags: string[],
): { tags: string[]; toolTagsComplete: boolean } {
  const names = profile.tools.map((t) => t.name);
  const toolTags = names.slice(0, MAX_TOOL_TAGS).map((n) => `${TOOL_TAG_PREFIX}${tagSafe(n)}`);
  const tags = [
    ...new Set(['mcp', TRANSPORT_TAG, ERA_TAG, `session-mode:${instance.sessionMode}`, ...toolTags, ...userTags]),
  ];
  return { tags, toolTagsComplete: names.length <= MAX_TOOL_TAGS };
}

export function serviceMeta(
  instance: Instance,
  profile: ServerProfile,
  toolTagsComplete: boolean,
): Record<string, string> {
  const names = commaList(
    profile.tools.map((t) => t.name),
    META_VALUE_MAX_BYTES,
  );
  // Modern first, then every legacy version: a client picks the first it speaks. Today's list is ~70 bytes;
  // the cut at a version boundary only matters if the lists ever outgrow Consul's 512-byte value.
  const versions = commaList(servedProtocolVersions(), META_VALUE_MAX_BYTES);
  const pairs: Array<[string, string]> = [
    ['mcp_server_name', profile.serverInfo.name],
    ['mcp_server_version', profile.serverInfo.version],
    // The version the sidecar negotiated with the child over stdio (what the server itself speaks) ...
    ['mcp_protocol_version', profile.protocolVersion],
    // legacy (initialize) or modern (2026-07-28 only): what the sidecar found when it probed the server.
    ['mcp_server_era', profile.era],
    // ... and the versions the sidecar serves to HTTP clients, whatever the child speaks.
    ['mcp_protocol_versions', versions.text],
    ['mcp_tool_count', String(profile.tools.length)],
    ['mcp_tools_hash', profile.toolsHash],
    ['mcp_transport', 'streamable-http'],
    ['mcp_path', '/mcp'],
    ['mcp_session_mode', instance.sessionMode],
    ['mcp_sidecar_version', instance.sidecarVersion],
    ['mcp_tools', names.text],
  ];
  if (!names.complete) pairs.push(['mcp_tools_truncated', 'true']);
  if (!toolTagsComplete)
    pairs.push(['mcp_tool_tags_truncated', `true (first ${MAX_TOOL_TAGS} of ${profile.tools.length} tools tagged)`]);
  if (profile.serverInfo.title) pairs.push(['mcp_server_title', profile.serverInfo.title]);
  pairs.push(
    ['mcp_prompt_count', String(profile.prompts.length)],
    ['mcp_resource_count', String(profile.resources.length)],
  );
  return consulMeta(pairs);
}

/** Output of the TTL check for a health report, as operators read it in the Consul UI. */
export function pingCheckOutput(health: WorkerHealth): string {
  return health.status === 'passing'
    ? `MCP ping ok in ${Math.round(health.latencyMs)} ms; ${health.toolCount} tools`
    : `MCP server down: ${health.reason}`;
}

/** The agent runs the /readyz check itself: often enough to follow the TTL check, never busier than 1/s. */
export function readyzInterval(checkTtlMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.round(checkTtlMs / 2)));
}

/**
 * The whole definition. The TTL check starts as "warning" (neither claimed healthy nor failed): the publisher
 * follows every registration at once with a check update carrying the verified status and its output. Starting
 * from a status the sidecar never reports makes that update a status change, which the agent syncs to the
 * catalog immediately (output-only changes wait for its check_update_interval, 5 minutes by default), so the
 * catalog shows the real output from the start. A check definition has no output field of its own.
 * Re-registering an existing service keeps its checks' current status (the agent does that), so a profile
 * change never flaps health.
 */
export function serviceRegistration(
  instance: Instance,
  profile: ServerProfile,
  settings: CheckSettings,
): ServiceRegistration {
  const { tags, toolTagsComplete } = serviceTags(instance, profile, settings.tags);
  return {
    ID: instance.serviceId,
    Name: instance.name,
    Address: instance.advertiseHost,
    Port: instance.advertisePort,
    Tags: tags,
    Meta: serviceMeta(instance, profile, toolTagsComplete),
    Checks: [
      {
        CheckID: pingCheckId(instance.serviceId),
        Name: 'MCP ping',
        Notes:
          'Passed by the sidecar after each successful MCP ping of the server; failed at once when the server exits, hangs or crash-loops.',
        TTL: `${settings.checkTtlMs}ms`,
        Status: 'warning',
        DeregisterCriticalServiceAfter: `${settings.deregisterAfterMs}ms`,
      },
      {
        CheckID: readyzCheckId(instance.serviceId),
        Name: 'sidecar /readyz',
        Notes: 'The agent calls the sidecar: reachable over the network and ready to serve.',
        HTTP: settings.readyzUrl,
        Method: 'GET',
        Interval: `${readyzInterval(settings.checkTtlMs)}ms`,
        Timeout: '2s',
        DeregisterCriticalServiceAfter: `${settings.deregisterAfterMs}ms`,
      },
    ],
  };
}
