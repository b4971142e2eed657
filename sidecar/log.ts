/** One pino logger for the whole process; parts take a child logger named after themselves. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.MCP_SIDECAR_LOG_LEVEL ?? 'info'): Logger {
  // Logs go to stderr so stdout stays free for tools that pipe the sidecar's own output; synchronous so the
  // last lines before an exit (crash loop, shutdown) are never lost.
  return pino({ level, base: { app: 'mcp-sidecar' } }, pino.destination({ fd: 2, sync: true }));
}
