/**
 * The limit every bridge is measured against: the MCP server's own stdio, driven in-process with NDJSON and
 * nothing else (no HTTP, no id rewriting). Many callers share the one pipe; replies are matched by id.
 */
import type { ChildProcess } from 'node:child_process';
import { echoText, PROTOCOL_VERSION, type EchoChannel, type JsonRpcMessage } from './load-client.js';

interface Pending {
  resolve(message: JsonRpcMessage): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class StdioMcpClient implements EchoChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private exitReason: string | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly timeoutMs: number,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    child.once('exit', (code, signal) => {
      this.exitReason = `the server exited (code ${code}, signal ${signal})`;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(new Error(this.exitReason));
      }
    });
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let end: number;
    while ((end = this.buffered.indexOf('\n')) !== -1) {
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      if (!line.trim()) continue;
      let message: JsonRpcMessage;
      try {
        message = JSON.parse(line);
      } catch {
        continue; // stray non-JSON output is the server's business, not a reply
      }
      if ('method' in message || typeof message.id !== 'number') continue;
      const p = this.pending.get(message.id);
      if (!p) continue;
      clearTimeout(p.timer);
      this.pending.delete(message.id);
      p.resolve(message);
    }
  }

  request(method: string, params: Record<string, unknown>): Promise<JsonRpcMessage> {
    if (this.exitReason) return Promise.reject(new Error(this.exitReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  async open(): Promise<void> {
    const init = await this.request('initialize', {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'mcp-sidecar-bench', version: '1' },
    });
    if (!init.result) throw new Error(`initialize failed: ${JSON.stringify(init.error ?? init).slice(0, 300)}`);
    this.child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  }

  async echo(message: string): Promise<string> {
    return echoText(await this.request('tools/call', { name: 'echo', arguments: { message } }));
  }
}
