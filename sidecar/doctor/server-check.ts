/**
 * The doctor's first check: the MCP server command resolves and completes a real handshake (initialize and the
 * list requests, with the sidecar's own worker code), after which the server and its process group are stopped.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { workerOptions } from '../instance.js';
import type { Logger } from '../log.js';
import { Worker } from '../mcp/worker.js';
import { CheckFailure } from './report.js';

/** Where the command would be run from: a path as given (against --cwd), or the first match on PATH. */
export function resolveCommand(command: string, cwd: string | undefined, path = process.env.PATH ?? ''): string {
  const runnable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const file = isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command);
    if (runnable(file)) return file;
    throw new CheckFailure(
      `"${command}" is not an executable file (looked at ${file})`,
      'give the path of the server program after "--", and make it executable (chmod +x)',
    );
  }
  for (const dir of path.split(delimiter).filter(Boolean)) if (runnable(join(dir, command))) return join(dir, command);
  throw new CheckFailure(
    `"${command}" is not found on PATH`,
    `install it, or put its full path after "--" (PATH is ${path || 'empty'})`,
  );
}

export async function checkServer(config: Config, log: Logger): Promise<string> {
  const file = resolveCommand(config.command, config.cwd);
  // No orphan guard: the doctor stops the server itself, here, before it returns.
  const worker = new Worker(workerOptions(config), log);
  try {
    await worker.ready();
  } catch (err) {
    throw new CheckFailure(
      `${file} started but did not complete the MCP handshake: ${(err as Error).message}`,
      'run the command by hand and check that it speaks MCP over stdio (JSON-RPC lines on stdout, logs on stderr); ' +
        `a slow server may need a longer --handshake-timeout (now ${config.handshakeTimeoutMs / 1000}s)`,
    );
  } finally {
    await worker.stop({ stdinGraceMs: config.stopTimeoutMs, termGraceMs: config.stopTimeoutMs });
  }
  const { serverInfo, protocolVersion, tools, era } = worker.profile;
  return (
    `${file} completed the handshake (${serverInfo.name} ${serverInfo.version}, ${era} era, protocol ${protocolVersion}, ` +
    `${tools.length} tool${tools.length === 1 ? '' : 's'}); stopped it and its process group`
  );
}
