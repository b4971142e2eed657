/**
 * The load client's MCP session over Streamable HTTP: undici's Pool on keep-alive connections and raw JSON-RPC,
 * no SDK. It has to stay much cheaper per call than the bridges it measures, so it does only what a call needs:
 * one POST, one body read, JSON or SSE parsing, id correlation.
 */
import type { Pool } from 'undici';

export type JsonRpcMessage = Record<string, any>;

/** What the closed loop drives: one echo round trip, resolving with the reply's text. */
export interface EchoChannel {
  echo(message: string): Promise<string>;
}

/** A channel over HTTP: opened before a cell's rounds (a session, or a first checked call), closed after. */
export interface HttpEchoChannel extends EchoChannel {
  open(): Promise<void>;
  close(): Promise<void>;
}

export const PROTOCOL_VERSION = '2025-06-18';
export const CLIENT_INFO = { name: 'mcp-sidecar-bench', version: '1' };

/** Reads the `data:` payloads of an SSE body; a payload is one JSON-RPC message (or a batch). */
function sseMessages(text: string): JsonRpcMessage[] {
  const messages: JsonRpcMessage[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    let data = '';
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line.charAt(5) === ' ' ? 6 : 5);
    }
    if (!data) continue;
    const parsed = JSON.parse(data);
    if (Array.isArray(parsed)) messages.push(...parsed);
    else messages.push(parsed);
  }
  return messages;
}

export function bodyMessages(contentType: string, text: string): JsonRpcMessage[] {
  if (contentType.includes('text/event-stream')) return sseMessages(text);
  if (contentType.includes('application/json')) {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  throw new Error(`unexpected content-type ${JSON.stringify(contentType)}: ${text.slice(0, 200)}`);
}

export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class HttpMcpSession implements HttpEchoChannel {
  sessionId: string | undefined;
  protocolVersion = PROTOCOL_VERSION;
  private nextId = 1;

  constructor(
    private readonly pool: Pool,
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.sessionId) {
      h['mcp-session-id'] = this.sessionId;
      h['mcp-protocol-version'] = this.protocolVersion;
    }
    return h;
  }

  private async post(body: string): Promise<{ status: number; contentType: string; sessionId?: string; text: string }> {
    const res = await this.pool.request({
      path: this.path,
      method: 'POST',
      headers: this.headers(),
      body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      contentType: header(res.headers['content-type']) ?? '',
      sessionId: header(res.headers['mcp-session-id']),
      text,
    };
  }

  /** Sends a request and resolves with its response; other messages on the same stream are ignored. */
  async request(method: string, params: Record<string, unknown>): Promise<JsonRpcMessage> {
    const id = this.nextId++;
    const res = await this.post(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    if (method === 'initialize' && res.sessionId) this.sessionId = res.sessionId;
    for (const message of bodyMessages(res.contentType, res.text)) {
      if (message.id === id && !('method' in message)) return message;
    }
    throw new Error(`${method}: no response for id ${id} in the body`);
  }

  async notify(method: string): Promise<void> {
    const res = await this.post(JSON.stringify({ jsonrpc: '2.0', method }));
    if (res.status !== 202 && res.status !== 200)
      throw new Error(`${method}: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
  }

  /** initialize + notifications/initialized: the session is usable afterwards. */
  async open(): Promise<void> {
    const init = await this.request('initialize', {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: CLIENT_INFO,
    });
    if (!init.result) throw new Error(`initialize failed: ${JSON.stringify(init.error ?? init).slice(0, 300)}`);
    if (!this.sessionId) throw new Error('initialize answered without an Mcp-Session-Id header');
    this.protocolVersion = init.result.protocolVersion ?? PROTOCOL_VERSION;
    await this.notify('notifications/initialized');
  }

  async echo(message: string): Promise<string> {
    return echoText(await this.request('tools/call', { name: 'echo', arguments: { message } }));
  }

  /** DELETE the session; bridges that do not support it answer 405, which is fine here. */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    const res = await this.pool.request({
      path: this.path,
      method: 'DELETE',
      headers: this.headers(),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    await res.body.dump();
    this.sessionId = undefined;
  }
}

/** The text of a tools/call response of `echo`; throws on a JSON-RPC error or a tool error. */
export function echoText(response: JsonRpcMessage): string {
  if (response.error) throw new Error(`JSON-RPC error ${response.error.code}: ${response.error.message}`);
  const result = response.result;
  if (!result || result.isError) throw new Error(`tool error: ${JSON.stringify(result).slice(0, 200)}`);
  const text = result.content?.[0]?.text;
  if (typeof text !== 'string') throw new Error(`no text content: ${JSON.stringify(result).slice(0, 200)}`);
  return text;
}
