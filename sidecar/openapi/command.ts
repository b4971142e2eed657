/**
 * `mcp-sidecar openapi [the options of a run] -- <command>`: print the OpenAPI document a run would serve at
 * GET /openapi.json. It starts the server, handshakes, prints, and stops it: the document comes from the live tool
 * list (with --tools-allow/--tools-deny applied), never from a guess. There is no caller here, so with --tool-scope
 * it lists every tool that exists for some caller, each operation naming the scopes it needs in `security`.
 */
import { helpText, parseRunOptions } from '../config.js';
import { instanceFor, workerOptions } from '../instance.js';
import { createLogger } from '../log.js';
import { handshakeOnce } from '../mcp/one-handshake.js';
import { openApiDocument } from './document.js';
import { documentOptions } from './options.js';

export function openApiHelp(): string {
  return [
    'mcp-sidecar openapi: print the OpenAPI 3.1 document of the REST facade (GET /openapi.json of a run with the',
    'same options): the server is started, handshaken and stopped. `servers` come from --advertise (else --host and',
    "--port) and, with --kong-admin, Kong's route path.",
    '',
    'Usage:',
    '  mcp-sidecar openapi [options] -- <command> [args...] > openapi.json',
    '',
    helpText(),
  ].join('\n');
}

/** Exit code 0 with the document on `out`, 1 when the server does not handshake, 2 for bad options. */
export async function openApiCommand(
  argv: string[],
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const config = parseRunOptions(argv, 'openapi');
  if (typeof config === 'string') {
    err(config);
    return 2;
  }
  if (config.help) {
    out(openApiHelp());
    return 0;
  }
  const options = workerOptions(config);
  let profile;
  try {
    // The server's own log lines go to stderr at error level only: stdout is the document.
    profile = await handshakeOnce(options, createLogger('error'), config.stopTimeoutMs);
  } catch (e) {
    err(
      `mcp-sidecar openapi: the MCP server (${[config.command, ...config.args].join(' ')}) did not complete the handshake: ${(e as Error).message}`,
    );
    return 1;
  }
  const policy = options.tools!;
  const doc = openApiDocument(
    profile,
    profile.tools,
    documentOptions(config, instanceFor(config, config.port), policy),
  );
  out(JSON.stringify(doc, null, 2));
  return 0;
}
