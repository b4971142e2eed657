/**
 * The Multi Round-Trip state of one modern call (Call.input): whether it is parked waiting for the client's
 * retry, the server requests it waits on under the keys the client sees, the responses the client offered, and
 * the server's answer when it came while the call waited. The lifecycle is InputRequired's (input-required.ts).
 */
import type { Call } from './call.js';
import { own, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';

/**
 * A legacy server may name the key of its request in the InputRequiredResult with this `_meta` field; without it
 * the key is `<kind>-<n>` (elicitation-1, sampling-1, roots-1, …), stable for a given server, so a client may
 * send the responses with its first request.
 */
export const INPUT_KEY_META = 'mcp-sidecar/inputKey';

/** The key prefix of each kind of input request: also the capability a client declares for it. */
const KIND: Record<string, string> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** What the server asked and is waiting for, under the key the client sees. */
export interface Ask {
  childId: string | number;
  method: string;
  params: Record<string, unknown> | undefined;
}

/** The Multi Round-Trip state of one call (Call.input). */
export class PendingInput {
  parked = false;
  /** Names the call in requestState; made when it first parks (most calls never ask for input). */
  handle = '';
  round = 0;
  // Made when first needed: nearly every call never asks for input, and two maps per modern call were garbage.
  private asksMap: Map<string, Ask> | undefined;
  get asks(): Map<string, Ask> {
    return (this.asksMap ??= new Map());
  }
  gather: NodeJS.Timeout | undefined;
  wait: NodeJS.Timeout | undefined;
  /** The server's answer to the call, when it came while the call waited for the client's retry. */
  final: JsonRpcResponse | undefined;
  private countsMap: Map<string, number> | undefined;

  constructor(
    readonly call: Call,
    /** The client's request (its name/uri and arguments stay as sent; only the id changes on the way). */
    readonly request: JsonRpcRequest,
    readonly identity: string | undefined,
    /** Responses the client sent that no request of the server has taken yet (this leg of the call). */
    public offered: Record<string, unknown>,
  ) {}

  /** The server answered without waiting for the input it asked: the retry gets that answer. */
  hold(response: JsonRpcResponse): void {
    this.final = response;
    this.asks.clear();
  }

  /** The first request still waiting for an answer whose capability `capabilities` (a retry's) do not declare. */
  undeclared(capabilities: Record<string, unknown>): { method: string; capability: string } | undefined {
    for (const { method } of this.asks.values()) {
      const capability = own(KIND, method) ?? method;
      if (!capabilities[capability]) return { method, capability };
    }
    return undefined;
  }

  keyFor(request: JsonRpcRequest): string {
    const named = request.params?._meta?.[INPUT_KEY_META];
    if (typeof named === 'string' && named && !this.asks.has(named)) return named;
    const kind = own(KIND, request.method) ?? 'input';
    const counts = (this.countsMap ??= new Map());
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    return `${kind}-${n}`;
  }
}
