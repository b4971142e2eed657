/**
 * The MCP servers of the local mesh: the reference servers the project's tests and compose file use, all from
 * npm (server-everything is a dependency, -filesystem and -memory optional ones), each run on the launcher's own
 * Node so the mesh needs nothing but `npm install`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface MeshServer {
  /** The service name in Consul (and the sidecar's --name). */
  name: string;
  /** The MCP server's command line (argv, never a shell). */
  command: string[];
  /** Sidecar options of this server alone. */
  sidecarArgs: string[];
}

function resolved(specifier: string, name: string): string {
  try {
    return require.resolve(specifier);
  } catch {
    throw new Error(
      `${name} is not installed (${specifier}); run "npm install" (it is an optional dependency of mcp-sidecar)`,
    );
  }
}

/**
 * server-everything, server-filesystem serving `filesRoot`, server-memory keeping its graph in `memoryFile`
 * (by default it writes beside its own code, inside node_modules).
 */
export function meshServers(filesRoot: string, memoryFile: string): MeshServer[] {
  const node = process.execPath;
  return [
    {
      name: 'everything',
      command: [node, resolved('@modelcontextprotocol/server-everything/dist/index.js', 'server-everything'), 'stdio'],
      sidecarArgs: [],
    },
    {
      name: 'filesystem',
      command: [
        node,
        resolved('@modelcontextprotocol/server-filesystem/dist/index.js', 'server-filesystem'),
        filesRoot,
      ],
      sidecarArgs: [],
    },
    {
      name: 'memory',
      command: [node, resolved('@modelcontextprotocol/server-memory/dist/index.js', 'server-memory')],
      sidecarArgs: ['--env', `MEMORY_FILE_PATH=${memoryFile}`],
    },
  ];
}
