/**
 * Lines on a server's stdout that are not JSON-RPC messages, or are messages MCP does not allow (a progress that is
 * no number): counted, and logged without drowning the log (the first lines in full, then one in a hundred), with
 * the reason. Stdout is the protocol channel: servers must log to stderr.
 */
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export class GarbageLog {
  private seen = 0;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  line(line: string, reason: string): void {
    this.metrics.garbageLines.inc();
    if (this.seen++ < 20 || this.seen % 100 === 0) {
      this.log.warn(
        { line: line.slice(0, 300), reason, seen: this.seen },
        'ignored a line on the MCP server stdout that is not a JSON-RPC message, or one MCP does not allow (see reason; servers must log to stderr)',
      );
    }
  }
}
