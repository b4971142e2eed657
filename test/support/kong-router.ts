/**
 * What Kong 3.x's proxy does with a request, as far as the sidecar's routes need it, for the Admin API double
 * (kong-admin-double.ts): which route takes it, and which path the upstream then sees. Only plain prefix paths,
 * `headers` (literal or `~*` regex) and `path_handling: v0` are modelled: no methods, hosts, regex paths or v1
 * (Kong 3.x's default router flavour, traditional_compatible, applies v0 whatever the route says).
 */

type Stored = Record<string, any>;

/**
 * The route Kong's router picks: of the routes whose paths (prefixes) and headers all match, the highest
 * priority as Kong 3.x orders them (kong/router/transform.lua, get_priority): the number of matching attributes
 * (methods, hosts, headers, snis, paths) above all, then the number of headers, then the length of the path. A
 * header value `~*re` is a case-insensitive regex, others compare case-insensitively.
 */
export function pickRoute<R extends Stored>(
  routes: Iterable<R>,
  path: string,
  headers: Record<string, string> = {},
): R | undefined {
  const uri = path.replace(/\?.*$/, '');
  const sent = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const matches = (route: R): boolean =>
    (route.paths ?? []).some((p: string) => uri.startsWith(p)) &&
    Object.entries((route.headers ?? {}) as Record<string, string[]>).every(([name, values]) => {
      const value = sent.get(name.toLowerCase());
      if (value === undefined) return false;
      return values.some((v) =>
        v.startsWith('~*') ? new RegExp(v.slice(2), 'i').test(value) : v.toLowerCase() === value.toLowerCase(),
      );
    });
  const priority = (route: R): number[] => {
    const headerCount = Object.keys(route.headers ?? {}).length;
    const attributes = (route.paths?.length ? 1 : 0) + (headerCount > 0 ? 1 : 0);
    return [attributes, headerCount, Math.max(0, ...(route.paths ?? []).map((p: string) => p.length))];
  };
  const order = (a: number[], b: number[]): number => b[0] - a[0] || b[1] - a[1] || b[2] - a[2];
  return [...routes].filter(matches).sort((a, b) => order(priority(a), priority(b)))[0];
}

/**
 * The path the upstream sees: Kong's `get_upstream_uri` (kong/router/utils.lua, v0 path handling), which
 * combines the service's `path` (default `/`), the route's `strip_path` and the request path, minus the query
 * (Kong passes the query string on unchanged). With `strip_path` the longest matching route path is cut off and
 * the rest ("postfix") appended to the service path.
 */
export function upstreamPath(route: Stored, service: Stored, path: string): string {
  if ((route.path_handling ?? 'v0') !== 'v0') throw new Error(`path_handling ${route.path_handling} is not modelled`);
  const uri = path.replace(/\?.*$/, '');
  const base: string = service.path ?? '/';
  const matched = Math.max(
    ...(route.paths ?? []).filter((p: string) => uri.startsWith(p)).map((p: string) => p.length),
  );
  const postfix = uri.slice(matched);
  const strip = route.strip_path ?? true;
  if (base.endsWith('/')) {
    if (!strip) return base + uri.slice(1);
    if (postfix === '') return base === '/' || uri.endsWith('/') ? base : base.slice(0, -1);
    return postfix.startsWith('/') ? base.slice(0, -1) + postfix : base + postfix;
  }
  if (!strip) return uri === '/' ? base : base + uri;
  if (postfix === '') return uri.length > 1 && uri.endsWith('/') ? `${base}/` : base;
  return postfix.startsWith('/') ? base + postfix : `${base}/${postfix}`;
}
