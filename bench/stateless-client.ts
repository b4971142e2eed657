/**
 * The load client's modern (MCP 2026-07-28) channel: no initialize, no session; every call is one stateless POST
 * whose headers name the version, the method and the tool (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) and
 * whose `_meta` carries the version, the client's capabilities and its identity, as the revision's transport page
 * requires. Same pool, same parsing and the same reply check as the session client, so the two rows differ only
 * in the protocol era.
 */
import type { Pool } from 'undici';
import {
  bodyMessages,
  CLIENT_INFO,
  echoText,
  header,
  type HttpEchoChannel,
  type JsonRpcMessage,
} from './load-client.js';

export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
};

// Every call is tools/call of `echo`, so the headers never change: one object for all of them.
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
};

const WHAT = `stateless ${MODERN_PROTOCOL_VERSION} tools/call echo`;

export class StatelessMcpClient implements HttpEchoChannel {
  private nextId = 1;

  constructor(
    private readonly pool: Pool,
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {}

  private async call(message: string): Promise<{ response: JsonRpcMessage; sessionId?: string }> {
    const id = this.nextId++;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message }, _meta: META },
    });
    const res = await this.pool.request({
      path: this.path,
      method: 'POST',
      headers: HEADERS,
      body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${WHAT}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    for (const response of bodyMessages(header(res.headers['content-type']) ?? '', text)) {
      if (response.id === id && !('method' in response))
        return { response, sessionId: header(res.headers['mcp-session-id']) };
    }
    throw new Error(`${WHAT}: no response for id ${id} in the body`);
  }

  async echo(message: string): Promise<string> {
    return echoText((await this.call(message)).response);
  }

  /**
   * One checked call before the rounds: a target that does not serve 2026-07-28 statelessly fails its cell here,
   * with its own answer as the reason, instead of spinning through the rounds on errors.
   */
  async open(): Promise<void> {
    const message = `probe-${this.nextId}`;
    const { response, sessionId } = await this.call(message);
    const text = echoText(response);
    if (text !== `Echo: ${message}`)
      throw new Error(`${WHAT}: wrong reply: expected "Echo: ${message}", got ${JSON.stringify(text.slice(0, 120))}`);
    if (sessionId !== undefined)
      throw new Error(
        `${WHAT}: answered with Mcp-Session-Id ${JSON.stringify(sessionId)}; a ${MODERN_PROTOCOL_VERSION} request is served without a session`,
      );
    const resultType = response.result.resultType;
    if (resultType !== 'complete')
      throw new Error(
        `${WHAT}: result has resultType ${JSON.stringify(resultType)}; a ${MODERN_PROTOCOL_VERSION} result carries "complete"`,
      );
  }

  /** Nothing to close: there is no session. */
  async close(): Promise<void> {}
}
