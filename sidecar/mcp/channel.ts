/**
 * The one interface both ends of the bridge implement, as every transport of the MCP TypeScript SDK does: the
 * stdio worker on the server side, an HTTP session (or a one-shot REST caller) on the client side. The router
 * only switches messages between channels.
 */
import type { JsonRpcMessage } from './jsonrpc.js';

export interface Channel {
  /**
   * Sends a message out through this end. `related` is the key of the client request the message belongs to
   * (on HTTP: the stream of that request's POST); none means channel-wide.
   */
  send(message: JsonRpcMessage, related?: string | number): void;
  /** Messages arriving from this end; set by the router. */
  onmessage?: (message: JsonRpcMessage) => void;
  /** This end is gone (the process exited, the session closed); set by the router. */
  onclose?: (reason: string) => void;
  close(reason: string): void;
}

/** The client end of an MCP session, which also knows whether anyone is listening on it. */
export interface ClientChannel extends Channel {
  /** The client cancelled `related`: end its stream without a response. */
  abandon(related: string | number): void;
  /** A client is listening right now (an open stream): the session is not idle. */
  hasOpenStream(): boolean;
}
