/**
 * The default instance id, `<name>-<host>-<port>` of the advertised address. The sidecar registers under it
 * and `kong-config` tags targets with it, so both must derive it here, the one place.
 */
export function defaultServiceId(name: string, host: string, port: number): string {
  // Consul ids and Kong tags both accept these characters; an IPv6 host's brackets and colons become dashes.
  return `${name}-${host}-${port}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}
