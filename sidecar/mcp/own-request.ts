/**
 * A request of the sidecar's own to a server process (the handshake, pings, list refreshes): a promise of its
 * result that rejects on an error answer, a timeout (the request is then cancelled at the server) or the
 * process's exit. It goes through the worker's call table like any client call, under its own child id.
 */
import type { JsonRpcRequest } from './jsonrpc.js';
import type { Worker } from './worker.js';

export function ownRequest(
  worker: Worker,
  method: string,
  params: Record<string, unknown> | undefined,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const request: JsonRpcRequest = { jsonrpc: '2.0', id: 0, method };
    if (params) request.params = params;
    const sent: { id?: number } = {};
    const timer = setTimeout(() => {
      if (sent.id !== undefined) worker.cancel(sent.id, `${method} timed out in mcp-sidecar`);
      reject(new Error(`${method} got no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sent.id = worker.dispatch(request, {
      answer: (response) => {
        clearTimeout(timer);
        if (response.error) {
          // The code and data ride along: the era probe tells a modern error from a legacy one by them.
          const { code, message, data } = response.error;
          reject(Object.assign(new Error(`${method} failed: ${message} (code ${code})`), { code, data }));
        } else resolve(response.result ?? {});
      },
      progress: () => {},
      fail: (error) => {
        clearTimeout(timer);
        reject(new Error(error.message));
      },
    });
    if (sent.id === undefined) {
      clearTimeout(timer);
      reject(new Error(`${method} could not be sent: the MCP server process is not running`));
    }
  });
}
