/**
 * A tool's inputSchema or outputSchema as an OpenAPI 3.1 Schema Object. OpenAPI 3.1's dialect is JSON Schema
 * 2020-12, as MCP's is, but a tool schema cannot be pasted under `paths` as it is:
 *  - its local references (`#/$defs/x`, `#/definitions/x`, `#`) point into the tool schema, and once the schema
 *    sits inside the OpenAPI document `#` means the document. Each tool schema therefore becomes a component of
 *    its own, and every local reference is rebased onto it (`#/components/schemas/<key>/$defs/x`), which keeps
 *    `$defs` (and draft-07 `definitions`) exactly where the references expect them;
 *  - `$schema` (most servers list draft-07, from zod) would switch that subschema to another dialect, and `$id`
 *    would move the base the rebased references resolve against: both are dropped, so the document's
 *    `jsonSchemaDialect` (2020-12) applies;
 *  - draft-07's tuple form `items: [...]` is `prefixItems` in 2020-12 (with `additionalItems` becoming `items`),
 *    and `dependencies` is split into `dependentRequired` and `dependentSchemas`.
 * Data keywords (`enum`, `const`, `default`, `examples`) are copied as they are, and property maps are walked by
 * value, so a property that happens to be named `$ref` stays a property.
 */

type Json = Record<string, unknown>;

/** Keywords whose value maps names to subschemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is an instance, not a schema. */
const DATA = new Set(['enum', 'const', 'default', 'examples', 'example']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `#…` → `#/components/schemas/<key>…`; references to other documents are left alone. */
function rebase(ref: string, pointer: string): string {
  if (ref === '#') return pointer;
  if (ref.startsWith('#/')) return `${pointer}${ref.slice(1)}`;
  return ref;
}

function convert(node: unknown, pointer: string): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, pointer));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === '$id') continue;
    if (DATA.has(key)) out[key] = value;
    else if (key === '$ref' && typeof value === 'string') out[key] = rebase(value, pointer);
    else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, convert(sub, pointer)]));
    } else if (key === 'items' && Array.isArray(value)) out.prefixItems = convert(value, pointer);
    else if (key === 'additionalItems' && Array.isArray(node.items)) out.items = convert(value, pointer);
    else if (key === 'dependencies' && isObject(value)) {
      for (const [name, dep] of Object.entries(value)) {
        const target = Array.isArray(dep) ? 'dependentRequired' : 'dependentSchemas';
        out[target] = { ...(out[target] as Json), [name]: Array.isArray(dep) ? dep : convert(dep, pointer) };
      }
    } else out[key] = convert(value, pointer);
  }
  return out;
}

/** The tool schema as the component `components/schemas/<key>` (key: letters, digits, `.`, `-`, `_`). */
export function componentSchema(schema: Json, key: string): Json {
  return convert(schema, `#/components/schemas/${key}`) as Json;
}
