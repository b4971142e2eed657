/**
 * Who sent a request, as the authentication established it (--auth jwt): the token's subject and the scopes it
 * grants. The token itself is never kept. The HTTP layer tags each JSON-RPC request with the caller of the HTTP
 * request that carried it, so the caller travels with that request (through a wait for a restarting server, a
 * retry) and never with the session: two POSTs of one session may carry different tokens.
 */
export interface Caller {
  sub: string | undefined;
  scopes: ReadonlySet<string>;
}

/** Weak: a tag lives exactly as long as the HTTP request or JSON-RPC message it is on. */
const callers = new WeakMap<object, Caller>();

/** Tags an HTTP request or a JSON-RPC message with its caller (anything but an object cannot carry one). */
export function tagCaller(target: unknown, caller: Caller | undefined): void {
  if (caller && typeof target === 'object' && target !== null) callers.set(target, caller);
}

export function callerOf(target: object): Caller | undefined {
  return callers.get(target);
}
