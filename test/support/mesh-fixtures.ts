/** What the publisher tests (Consul, Kong, the skeleton) hand a publisher, and a log they can read back. */
import { pino, type Logger } from 'pino';
import type { Instance } from '../../sidecar/mesh/publisher.js';
import type { ServerProfile } from '../../sidecar/mcp/profile.js';

/** A complete profile (as after a finished handshake) with these tools; its toolsHash changes with the names. */
export function testProfile(toolNames: string[], overrides: Partial<ServerProfile> = {}): ServerProfile {
  return {
    era: 'legacy',
    serverInfo: { name: 'test-server', version: '1.2.3' },
    protocolVersion: '2025-11-25',
    capabilities: { tools: {} },
    tools: toolNames.map((name) => ({ name, inputSchema: { type: 'object' as const } })),
    prompts: [],
    resources: [],
    resourceTemplates: [],
    toolsHash: `h${toolNames.length}-${toolNames.join('').slice(0, 12)}`,
    ...overrides,
  };
}

/** An instance of server `name` advertised at 127.0.0.1:`port`. */
export function testInstance(name: string, port: number): Instance {
  return {
    name,
    serviceId: `${name}-127.0.0.1-${port}`,
    advertiseHost: '127.0.0.1',
    advertisePort: port,
    sessionMode: 'shared',
    sidecarVersion: '0.1.0-test',
  };
}

export interface CapturedLog {
  log: Logger;
  /** Every line, parsed. */
  lines: Array<Record<string, any>>;
  /** Every line as written (to prove a secret never appears in it). */
  raw: string[];
  /** The lines at info or above: what an operator sees by default. */
  infoOrAbove(): Array<Record<string, any>>;
}

/** A debug-level pino logger whose lines the test can read back. */
export function capturedLogger(): CapturedLog {
  const lines: Array<Record<string, any>> = [];
  const raw: string[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void (raw.push(line), lines.push(JSON.parse(line))) },
  );
  return { log, lines, raw, infoOrAbove: () => lines.filter((l) => l.level >= 30) };
}
