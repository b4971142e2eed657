/**
 * A stand-in for Kong Gateway 3.9's Admin API (DB mode) on 127.0.0.1, for contract tests of the Kong publisher.
 *
 * Every request is checked twice before it is answered:
 *  1. against Kong's own OpenAPI document (../shared/kong/admin-oss-3.9.openapi.yaml) by a real validator,
 *     openapi-backend (Ajv underneath): the operation must exist, and path, query and JSON body must match it;
 *  2. against the rules Kong enforces that the document does not express (unknown fields, tag and name
 *     characters, the name in a PUT path), each listed in kongSideChecks below.
 * A failed check is answered 400 the way Kong answers a schema violation, and recorded in `violations`, so a
 * test fails on any request real Kong could refuse. Entities are kept in memory and the answers are Kong 3.9's
 * real ones where they differ from the document (see KNOWN QUIRKS).
 *
 * KNOWN QUIRKS of the document, handled explicitly (first two from ../shared/kong/README.md):
 *  Q1 `PUT /upstreams/{u}/targets/{t}` is documented as an upsert (200); real Kong 3.9 answers 404 for a target
 *     that does not exist (PATCH too). The double answers 404.
 *  Q2 `/upstreams/{u}/health` and `/upstreams/{u}/targets/{t}/healthy|unhealthy` exist in Kong but not in the
 *     document. The double refuses them as violations: a publisher that needs them cannot be contract-tested.
 *  Q3 Path typo `/services/{service_id_or_name}plugins` (no slash). openapi-backend would match it for
 *     GET/POST `/services/<anything>plugins` (a service named e.g. `mcp-plugins`) with a wrong parameter, so the
 *     double renames it to the path Kong serves, `/services/{service_id_or_name}/plugins`.
 *  Q4 Path typo `/routes/{route_id_or_name}/{filter_chain_id}` (DELETE only) is not a Kong endpoint and would
 *     match any DELETE `/routes/x/y`: removed.
 *  Q5 `components.schemas.Filter-chains.properties.route` is `nullable: true` without a `type`; Ajv refuses to
 *     compile the document at all. Given `type: object` (a route reference `{id}`, as in Kong).
 *  Q6 Formats `uuid`, `host` and `binary` are OpenAPI/Kong vocabulary Ajv does not know; registered (uuid and
 *     host with real patterns, binary unchecked).
 *  Q7 `upstream-request` enumerates `hash_on`/`hash_fallback` without `header`, which Kong 3.9 accepts (the
 *     Upstream entity schema and Kong's docs list none, consumer, ip, header, cookie, path, query_arg,
 *     uri_capture): `header` is added to both enums. Header-based hashing is what MCP session affinity needs.
 *  Q8 POST creates are documented as 200; real Kong answers 201 Created. The double answers 201.
 *  Q9 DELETE of a missing target is documented as 204 "or the resource didn't exist"; Kong's targets endpoint
 *     answers 404 for a target it does not know (other entities: 204). The double answers 404; the publisher
 *     must accept both.
 *  Q10 Request schemas are open objects (no `additionalProperties: false`), but Kong rejects unknown fields
 *     ("unknown field"); and route-request lists two example headers (`x-my-header`, `x-another-header`) as
 *     the properties of `headers`. The unknown-field check walks the documented properties and treats free-form
 *     maps (`headers`) as open.
 *  Q11 `plugin-request` documents `config` with the properties of its rate-limiting example (`hour`, `minute`);
 *     a plugin's config is the plugin's own schema. `config` is free-form for the unknown-field check, and the
 *     request-transformer config the publisher sends is checked by requestTransformerChecks below instead.
 *  Responses are not validated against the document: real Kong returns nulls (e.g. `client_certificate: null`)
 *  the document's response schemas do not allow, so such a check would test the document, not the publisher.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAPIBackend, type Document, type Operation, type Request } from 'openapi-backend';
import { parse } from 'yaml';
import { pickRoute, upstreamPath } from './kong-router.js';

/** The Kong version the double answers GET / with: the release its OpenAPI document describes. */
export const KONG_VERSION = '3.9.1';

export interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
  status: number;
  violations: string[];
  /** The Kong-Admin-Token header it carried, if any (to check that credentials go with every request). */
  adminToken?: string;
}

export interface KongAdminDoubleOptions {
  /** Kong Enterprise RBAC: every request must carry this Kong-Admin-Token, else 401 as Kong answers. */
  adminToken?: string;
  /** Serve the Admin API over https with this certificate (PEM), as an Admin API on a TLS listener. */
  tls?: { key: string; cert: string };
}

type Entity = Record<string, any> & { id: string; created_at: number; updated_at: number };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the document is: $KONG_OPENAPI_DOC, else shared/ beside the repository (as in CI). */
export function kongOpenApiPath(): string {
  const path = process.env.KONG_OPENAPI_DOC ?? resolve(repoRoot, '../shared/kong/admin-oss-3.9.openapi.yaml');
  if (!existsSync(path)) {
    throw new Error(
      `Kong's OpenAPI document is not at ${path}: the contract tests need ../shared/kong/admin-oss-3.9.openapi.yaml beside the repository (or KONG_OPENAPI_DOC=<path>)`,
    );
  }
  return path;
}

/** The document as published, with the quirks Q3–Q7 corrected (see the file comment). */
function loadDocument(): Document {
  const doc = parse(readFileSync(kongOpenApiPath(), 'utf8')) as any;
  const paths = doc.paths as Record<string, unknown>;
  // Q3
  const typo = '/services/{service_id_or_name}plugins';
  if (paths[typo]) {
    paths['/services/{service_id_or_name}/plugins'] = paths[typo];
    delete paths[typo];
  }
  // Q4
  delete paths['/routes/{route_id_or_name}/{filter_chain_id}'];
  // Q5
  const fcRoute = doc.components?.schemas?.['Filter-chains']?.properties?.route;
  if (fcRoute && fcRoute.nullable && !fcRoute.type) fcRoute.type = 'object';
  // Q7
  const upstreamProps =
    doc.components?.requestBodies?.['upstream-request']?.content?.['application/json']?.schema?.properties;
  for (const field of ['hash_on', 'hash_fallback']) {
    const values: string[] | undefined = upstreamProps?.[field]?.enum;
    if (values && !values.includes('header')) values.push('header');
  }
  return doc as Document;
}

/** Free-form maps inside request bodies (Q10, Q11): any key is allowed. */
const FREE_FORM = new Set(['headers', 'config']);

/**
 * Kong's request-transformer config schema (kong/plugins/request-transformer/schema.lua): remove/rename/replace/
 * add/append, each of body/headers/querystring string arrays; a header to add is `name:value`.
 */
function requestTransformerChecks(config: unknown): string[] {
  const out: string[] = [];
  if (typeof config !== 'object' || config === null) return ['config: expected a record'];
  for (const [action, fields] of Object.entries(config)) {
    if (!['http_method', 'remove', 'rename', 'replace', 'add', 'append'].includes(action)) {
      out.push(`config.${action}: unknown field`);
      continue;
    }
    if (action === 'http_method') continue;
    for (const [field, list] of Object.entries(fields as Record<string, unknown>)) {
      if (!['body', 'headers', 'querystring', ...(action === 'replace' ? ['uri'] : [])].includes(field))
        out.push(`config.${action}.${field}: unknown field`);
      else if (!Array.isArray(list) || list.some((v) => typeof v !== 'string'))
        out.push(`config.${action}.${field}: expected an array of strings`);
      else if (field === 'headers' && action !== 'remove' && list.some((v) => !/^[^:]+:.+$/.test(v)))
        out.push(`config.${action}.headers: invalid value: expected "name:value"`);
    }
  }
  return out;
}

function unknownFields(value: unknown, schema: any, at: string, out: string[]): void {
  if (!schema || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => unknownFields(v, schema.items, `${at}[${i}]`, out));
    return;
  }
  if (!schema.properties) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = schema.properties[key];
    if (!sub) out.push(`${at}${key}: unknown field (Kong rejects fields its schema does not have)`);
    else if (!FREE_FORM.has(key)) unknownFields(v, sub, `${at}${key}.`, out);
  }
}

/** Kong: tags are printable ASCII except `,` and `/` (kong/db/schema/typedefs.lua). */
const TAG = /^[\x21-\x2b\x2d\x2e\x30-\x7e]+$/;
/** Kong: service and route names (typedefs.utf8_name, ASCII part). */
const NAME = /^[A-Za-z0-9._~-]+$/;
/** Kong: an upstream name is a hostname. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TARGET = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/**
 * Kong's upstream entity checks on the fallback hash (kong/db/schema/entities/upstreams.lua), which the document
 * only describes in prose: no fallback without a primary hash or after a cookie, a header fallback names its
 * header, and the fallback differs from the primary (Kong answers 400 to `hash_on: ip, hash_fallback: ip`).
 */
function hashFallbackChecks(body: Record<string, any>): string[] {
  const on = body.hash_on ?? 'none';
  const fallback = body.hash_fallback ?? 'none';
  if (fallback === 'none') return [];
  const out: string[] = [];
  if (on === 'none' || on === 'cookie') out.push(`hash_fallback: must be 'none' when hash_on is '${on}'`);
  if (fallback === 'header' && !body.hash_fallback_header)
    out.push("hash_fallback_header: required field missing when hash_fallback is 'header'");
  if (
    fallback === on &&
    (on !== 'header' || body.hash_on_header?.toLowerCase() === body.hash_fallback_header?.toLowerCase())
  ) {
    out.push('hash_fallback: values of hash_on and hash_fallback must be distinct');
  }
  return out;
}

/**
 * A route's `headers`, as the document's Route description states them: a map of header names to lists of values,
 * never `Host` (that is `hosts`), and "when headers contains only one value and that value starts with the
 * special prefix `~*`, the value is interpreted as a regular expression". A `~*` value beside others is refused
 * here: whether it is then a regex or literal text depends on the router flavour, so a publisher must not send it.
 * The regex must compile (JavaScript's syntax stands in for Kong's PCRE/Rust regex, which agree on simple ones).
 */
function routeHeaderChecks(headers: unknown): string[] {
  if (headers === undefined || headers === null) return [];
  if (typeof headers !== 'object' || Array.isArray(headers)) return ['headers: expected a map'];
  const out: string[] = [];
  for (const [name, values] of Object.entries(headers)) {
    if (name.toLowerCase() === 'host')
      out.push("headers: cannot contain 'host' header, which must be specified in the 'hosts' attribute");
    if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string' || v === '')) {
      out.push(`headers.${name}: expected a non-empty array of non-empty strings`);
      continue;
    }
    const regexes = (values as string[]).filter((v) => v.startsWith('~*'));
    if (regexes.length > 0 && values.length > 1)
      out.push(`headers.${name}: a regular expression (~*) is one only as the single value`);
    for (const regex of regexes) {
      try {
        if (regex.length === 2) throw new Error('empty');
        new RegExp(regex.slice(2), 'i');
      } catch {
        out.push(`headers.${name}: invalid regex ${JSON.stringify(regex)}`);
      }
    }
  }
  return out;
}

/** The checks Kong makes that the document does not express (Q10 and the rules above). */
function kongSideChecks(operation: Operation, params: Record<string, string>, body: any): string[] {
  const out: string[] = [];
  const schema = (operation.requestBody as any)?.content?.['application/json']?.schema;
  if (body && typeof body === 'object') unknownFields(body, schema, '', out);
  if (Array.isArray(body?.tags)) {
    for (const tag of body.tags)
      if (typeof tag !== 'string' || !TAG.test(tag))
        out.push(`tags: invalid tag ${JSON.stringify(tag)}: expected printable ascii (except , and /)`);
  }
  const op = operation.operationId;
  if (op === 'upsert-upstream') {
    if (body?.name !== undefined && !UUID.test(params.upstream_id_or_name) && body.name !== params.upstream_id_or_name)
      out.push('name: must match the name in the path');
    const name = body?.name ?? params.upstream_id_or_name;
    if (!HOSTNAME.test(name)) out.push(`name: ${JSON.stringify(name)} is not a valid hostname`);
    if (body?.hash_on === 'header' && !body.hash_on_header)
      out.push("hash_on_header: required field missing when hash_on is 'header'");
    out.push(...hashFallbackChecks(body ?? {}));
  }
  if (op === 'upsert-service' || op === 'upsert-route-for-service') {
    const key = op === 'upsert-service' ? params.service_id_or_name : params.route_id_or_name;
    if (body?.name !== undefined && !UUID.test(key) && body.name !== key)
      out.push('name: must match the name in the path');
    if (!NAME.test(body?.name ?? key)) out.push(`name: invalid value ${JSON.stringify(body?.name ?? key)}`);
  }
  // Kong's typedefs.path (the document says only "the path to be used in requests to the upstream server").
  if (op === 'upsert-service' && body?.path !== undefined && !/^\/[^?#\s]*$/.test(String(body.path)))
    out.push('path: should start with: /');
  if (op === 'upsert-plugin-for-a-service') {
    if (body?.instance_name !== undefined && !UUID.test(params.plugin_id) && body.instance_name !== params.plugin_id)
      out.push('instance_name: must match the instance name in the path');
    if (typeof body?.name !== 'string') out.push('name: required field missing');
    if (body?.service !== undefined) out.push('service: given by the path, must not be in the body');
    if (body?.name === 'request-transformer') out.push(...requestTransformerChecks(body.config ?? {}));
  }
  if (op === 'upsert-route-for-service' && body?.service !== undefined)
    out.push('service: given by the path, must not be in the body');
  if (op === 'upsert-route-for-service') out.push(...routeHeaderChecks(body?.headers));
  if (
    (op === 'create-target-for-upstream' || op === 'update-target-for-upstream') &&
    body?.target !== undefined &&
    !TARGET.test(body.target)
  ) {
    out.push(`target: ${JSON.stringify(body.target)} is not host:port`);
  }
  return out;
}

export class KongAdminDouble {
  readonly requests: RecordedRequest[] = [];
  readonly upstreams = new Map<string, Entity>();
  readonly services = new Map<string, Entity>();
  readonly routes = new Map<string, Entity>();
  /** Plugins by instance_name. */
  readonly plugins = new Map<string, Entity>();
  /** Targets per upstream id, keyed by `host:port`. */
  readonly targets = new Map<string, Map<string, Entity>>();

  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly holds: {
    match: (method: string, path: string) => boolean;
    arrived: () => void;
    released: Promise<void>;
  }[] = [];
  private port = 0;

  private constructor(
    private readonly api: OpenAPIBackend,
    private readonly opts: KongAdminDoubleOptions,
  ) {}

  static async start(opts: KongAdminDoubleOptions = {}): Promise<KongAdminDouble> {
    const api = new OpenAPIBackend({
      definition: loadDocument(),
      strict: false,
      validate: true,
      quick: false,
      ajvOpts: { allErrors: true },
      // Q6
      customizeAjv: (ajv) => {
        ajv.addFormat('uuid', UUID);
        ajv.addFormat('host', HOSTNAME);
        ajv.addFormat('binary', true);
        return ajv;
      },
    });
    await api.init();
    const double = new KongAdminDouble(api, opts);
    await double.up();
    return double;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Every contract violation seen so far, with the request it came from. */
  get violations(): string[] {
    return this.requests.flatMap((r) => r.violations.map((v) => `${r.method} ${r.path}: ${v}`));
  }

  /** The targets of an upstream (by name), as `host:port` → entity. */
  targetsOf(upstreamName: string): Map<string, Entity> {
    const upstream = this.upstreams.get(upstreamName);
    return (upstream && this.targets.get(upstream.id)) ?? new Map();
  }

  /**
   * Which stored route Kong's proxy would pick for a request: Kong 3.x's route priority (kong-router.ts models
   * it): attributes, then headers, then path length.
   */
  routeFor(path: string, headers: Record<string, string> = {}): Entity | undefined {
    return pickRoute(this.routes.values(), path, headers);
  }

  /**
   * Where Kong's proxy would send a request: the route it picks, that route's service and upstream, and the path
   * the upstream sees (the service's `path`, the route's `strip_path`, v0 path handling: kong-router.ts).
   */
  proxy(
    path: string,
    headers: Record<string, string> = {},
  ): { route: Entity; service: Entity; upstream?: Entity; path: string } | undefined {
    const route = this.routeFor(path, headers);
    const service = route && [...this.services.values()].find((s) => s.id === route.service?.id);
    if (!route || !service) return undefined;
    return { route, service, upstream: this.upstreams.get(service.host), path: upstreamPath(route, service, path) };
  }

  /**
   * Checks one request without answering it or changing any state: the document, then Kong's own rules.
   * Returns the violations (empty when Kong would accept the request's shape).
   */
  validate(method: string, path: string, body?: unknown): string[] {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    const req: Request = {
      method: method.toLowerCase(),
      path: path.replace(/\?.*$/, ''),
      query: path.includes('?') ? path.slice(path.indexOf('?') + 1) : undefined,
      headers,
      body: body as Request['body'],
    };
    const operation = this.api.matchOperation(req);
    if (!operation) return [`${method.toUpperCase()} ${req.path} is not an operation of Kong's OpenAPI document`];
    const result = this.api.validateRequest(req, operation);
    const out = (result.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
    const params = this.params(operation, req.path);
    out.push(...kongSideChecks(operation, params, body));
    return out;
  }

  /** Kong goes away: the port refuses connections and open ones are cut (as when Kong's container stops). */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Kong is back on the same port, with the entities it had (its database survived). */
  async up(): Promise<void> {
    if (this.server) return;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server: Server = this.opts.tls ? createHttpsServer(this.opts.tls, handler) : createServer(handler);
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /**
   * Holds the next request that `match`es before Kong acts on it, until `release()`: `held` resolves when it
   * arrives. A request whose client gave up meanwhile (an aborted connection) is dropped unapplied.
   */
  hold(match: (method: string, path: string) => boolean): { held: Promise<void>; release: () => void } {
    let arrived!: () => void;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.holds.push({ match, arrived, released });
    return { held, release };
  }

  /** Kong's database is wiped (a fresh Postgres): everything the publisher wrote is gone. */
  reset(): void {
    this.upstreams.clear();
    this.services.clear();
    this.routes.clear();
    this.plugins.clear();
    this.targets.clear();
  }

  async stop(): Promise<void> {
    await this.down();
  }

  // ---- serving ----

  private params(operation: Operation, path: string): Record<string, string> {
    const names = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const pattern = new RegExp(
      `^${operation.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`,
    );
    const m = pattern.exec(path);
    const out: Record<string, string> = {};
    names.forEach((name, i) => (out[name] = m ? decodeURIComponent(m[i + 1]) : ''));
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const record: RecordedRequest = { method, path, status: 0, violations: [] };
    const token = req.headers['kong-admin-token'];
    if (typeof token === 'string') record.adminToken = token;
    this.requests.push(record);
    if (this.opts.adminToken !== undefined && token !== this.opts.adminToken) {
      // Kong Enterprise's answer to a missing or unknown RBAC token.
      return this.answer(res, record, 401, { message: 'Invalid credentials. Token or User credentials required' });
    }
    let body: unknown;
    if (text !== '') {
      const type = String(req.headers['content-type'] ?? '');
      if (!type.startsWith('application/json')) record.violations.push(`body sent as "${type}", not application/json`);
      try {
        body = JSON.parse(text);
        record.body = body;
      } catch {
        record.violations.push('body is not JSON');
        return this.answer(res, record, 400, { message: 'Cannot parse JSON body' });
      }
    }
    const holdAt = this.holds.findIndex((h) => h.match(method, path));
    if (holdAt >= 0) {
      const [held] = this.holds.splice(holdAt, 1);
      held.arrived();
      await held.released;
      if (req.socket.destroyed) return;
    }
    const violations = this.validate(method, path, body);
    if (violations.length > 0) {
      record.violations.push(...violations);
      const notFound = violations[0].includes('is not an operation');
      return this.answer(
        res,
        record,
        notFound ? 404 : 400,
        notFound ? { message: 'Not found' } : { code: 2, name: 'schema violation', message: violations.join('; ') },
      );
    }
    const operation = this.api.matchOperation({
      method: method.toLowerCase(),
      path: path.replace(/\?.*$/, ''),
      headers: {},
    })!;
    const p = this.params(operation, path.replace(/\?.*$/, ''));
    const query = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
    if (query.has('tags')) p.tags = query.get('tags')!;
    const [status, payload] = this.behave(operation.operationId ?? '', p, body as Record<string, any> | undefined);
    if (status === 0)
      record.violations.push(
        `${operation.operationId} is valid but not modelled by the double: extend it before the publisher uses it`,
      );
    this.answer(res, record, status || 501, payload);
  }

  private answer(res: ServerResponse, record: RecordedRequest, status: number, payload?: unknown): void {
    record.status = status;
    if (status === 204 || payload === undefined) {
      res.writeHead(status, { 'content-length': '0' }).end();
      return;
    }
    const text = JSON.stringify(payload);
    res
      .writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      })
      .end(text);
  }

  private find(map: Map<string, Entity>, idOrName: string): Entity | undefined {
    return UUID.test(idOrName) ? [...map.values()].find((e) => e.id === idOrName) : map.get(idOrName);
  }

  private upsert(
    map: Map<string, Entity>,
    key: string,
    body: Record<string, any>,
    extra: Record<string, unknown> = {},
  ): Entity {
    const existing = this.find(map, key);
    const now = Math.floor(Date.now() / 1000);
    const name = body.name ?? (UUID.test(key) ? existing?.name : key);
    // PUT replaces the whole entity: fields not sent go back to their defaults (here: absent).
    const entity: Entity = {
      ...body,
      ...extra,
      name,
      id: existing?.id ?? (UUID.test(key) ? key : randomUUID()),
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    if (existing && existing.name !== name) map.delete(existing.name);
    map.set(name, entity);
    return entity;
  }

  /** Kong 3.9's answer for a valid request: [status, body]; status 0 = not modelled. */
  private behave(op: string, p: Record<string, string>, body: Record<string, any> = {}): [number, unknown?] {
    const notFound: [number, unknown] = [404, { message: 'Not found' }];
    switch (op) {
      case 'upsert-upstream':
        return [200, this.upsert(this.upstreams, p.upstream_id_or_name, body)];
      case 'get-upstream':
        return this.found(this.find(this.upstreams, p.upstream_id_or_name));
      case 'delete-upstream': {
        // Kong deletes an upstream's targets with it, and answers 204 for one that does not exist.
        const upstream = this.find(this.upstreams, p.upstream_id_or_name);
        if (upstream) {
          this.upstreams.delete(upstream.name);
          this.targets.delete(upstream.id);
        }
        return [204];
      }
      case 'geInfo':
        // GET /: the fields mcp-sidecar doctor reads (Kong's answer has many more).
        return [200, { version: KONG_VERSION, tagline: 'Welcome to kong', configuration: { database: 'postgres' } }];
      case 'upsert-service':
        return [200, this.upsert(this.services, p.service_id_or_name, body)];
      case 'get-service':
        return this.found(this.find(this.services, p.service_id_or_name));
      case 'upsert-route-for-service': {
        const service = this.find(this.services, p.service_id_or_name);
        if (!service) return notFound;
        return [200, this.upsert(this.routes, p.route_id_or_name, body, { service: { id: service.id } })];
      }
      case 'fetch-route-for-service': {
        const service = this.find(this.services, p.service_id_or_name);
        const route = this.find(this.routes, p.route_id_or_name);
        return this.found(service && route?.service?.id === service.id ? route : undefined);
      }
      case 'list-routes-for-service': {
        // `?tags=a,b`: entities carrying every one of the tags (Kong's AND filter).
        const service = this.find(this.services, p.service_id_or_name);
        if (!service) return notFound;
        const wanted = p.tags ? p.tags.split(',') : [];
        const data = [...this.routes.values()].filter(
          (r) => r.service?.id === service.id && wanted.every((tag) => r.tags?.includes(tag)),
        );
        return [200, { data, next: null }];
      }
      case 'delete-route-for-service': {
        // Kong deletes a route's plugins with it (a cascade the publisher must know about).
        const route = this.find(this.routes, p.route_id_or_name);
        if (route) {
          this.routes.delete(route.name);
          for (const [key, plugin] of this.plugins) if (plugin.route?.id === route.id) this.plugins.delete(key);
        }
        return [204];
      }
      case 'create-plugin-for-route': {
        // An operator's plugin on a route (the publisher itself never sends this).
        const route = this.find(this.routes, p.route_id_or_name);
        if (!route) return notFound;
        const now = Math.floor(Date.now() / 1000);
        const plugin: Entity = { ...body, route: { id: route.id }, id: randomUUID(), created_at: now, updated_at: now };
        this.plugins.set(plugin.instance_name ?? plugin.id, plugin);
        return [201, plugin];
      }
      case 'upsert-plugin-for-a-service': {
        const service = this.find(this.services, p.service_id_or_name);
        if (!service) return notFound;
        const key = p.plugin_id;
        const existing = [...this.plugins.values()].find((e) => e.id === key || e.instance_name === key);
        const now = Math.floor(Date.now() / 1000);
        const plugin: Entity = {
          ...body,
          instance_name: body.instance_name ?? (UUID.test(key) ? existing?.instance_name : key),
          service: { id: service.id },
          id: existing?.id ?? (UUID.test(key) ? key : randomUUID()),
          created_at: existing?.created_at ?? now,
          updated_at: now,
        };
        this.plugins.set(plugin.instance_name ?? plugin.id, plugin);
        return [200, plugin];
      }
      case 'fetch-plugin-with-a-service':
        return this.found(
          [...this.plugins.values()].find((e) => e.id === p.plugin_id || e.instance_name === p.plugin_id),
        );
      case 'list-targets-for-upstream': {
        const upstream = this.find(this.upstreams, p.upstream_id_or_name);
        if (!upstream) return notFound;
        return [200, { data: [...(this.targets.get(upstream.id)?.values() ?? [])], next: null }];
      }
      case 'create-target-for-upstream': {
        const upstream = this.find(this.upstreams, p.upstream_id_or_name);
        if (!upstream) return notFound;
        const targets = this.targets.get(upstream.id) ?? new Map<string, Entity>();
        this.targets.set(upstream.id, targets);
        const address = String(body.target);
        if (targets.has(address)) {
          return [
            409,
            {
              code: 5,
              name: 'unique constraint violation',
              message: `UNIQUE violation detected on '{upstream={id="${upstream.id}"},target="${address}"}'`,
              fields: { upstream: { id: upstream.id }, target: address },
            },
          ];
        }
        const now = Date.now() / 1000;
        const target: Entity = {
          weight: 100,
          tags: null,
          ...body,
          target: address,
          upstream: { id: upstream.id },
          id: randomUUID(),
          created_at: now,
          updated_at: now,
        };
        targets.set(address, target);
        return [201, target]; // Q8
      }
      case 'fetch-target-for-upstream':
        return this.found(this.target(p));
      case 'update-target-for-upstream':
      case 'upsert-target-for-upstream': {
        const target = this.target(p);
        if (!target) return notFound; // Q1
        const upstreamTargets = this.targets.get(target.upstream.id)!;
        const updated: Entity =
          op === 'update-target-for-upstream'
            ? { ...target, ...body, updated_at: Date.now() / 1000 }
            : {
                weight: 100,
                ...body,
                target: target.target,
                upstream: target.upstream,
                id: target.id,
                created_at: target.created_at,
                updated_at: Date.now() / 1000,
              };
        upstreamTargets.delete(target.target);
        upstreamTargets.set(updated.target, updated);
        return [200, updated];
      }
      case 'delete-upstream-target': {
        const target = this.target(p);
        if (!target) return notFound; // Q9
        this.targets.get(target.upstream.id)!.delete(target.target);
        return [204];
      }
      default:
        return [0, { message: `the Kong Admin API double does not model ${op}` }];
    }
  }

  private target(p: Record<string, string>): Entity | undefined {
    const upstream = this.find(this.upstreams, p.upstream_id_or_name);
    if (!upstream) return undefined;
    const targets = this.targets.get(upstream.id);
    if (!targets) return undefined;
    const key = p.target_id_or_target;
    return UUID.test(key) ? [...targets.values()].find((t) => t.id === key) : targets.get(key);
  }

  private found(entity: Entity | undefined): [number, unknown] {
    return entity ? [200, entity] : [404, { message: 'Not found' }];
  }
}
