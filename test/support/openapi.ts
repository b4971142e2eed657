/**
 * Checking an OpenAPI document as its consumers would: a real OpenAPI 3.1 validator (@readme/openapi-parser: the
 * document against the OAS 3.1 schema, and every $ref resolvable), and a JSON Schema 2020-12 validator (Ajv, the
 * one openapi-backend uses) for what a request body schema accepts, with its $refs resolved inside the document.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export type OpenApiDoc = Record<string, any>;

/** Throws with the validator's own report unless the document is valid OpenAPI 3.1 with resolvable $refs. */
export async function assertValidOpenApi(doc: OpenApiDoc): Promise<void> {
  // The parser dereferences what it is given: a copy keeps the caller's document as served.
  const result = await validate(structuredClone(doc) as never);
  if (!result.valid) throw new Error(`not a valid OpenAPI document:\n${compileErrors(result)}`);
}

/** The operation of `POST /tools/<name>`. */
export function toolOperation(doc: OpenApiDoc, tool: string): Record<string, any> {
  const op = doc.paths?.[`/tools/${encodeURIComponent(tool)}`]?.post;
  if (!op)
    throw new Error(`no POST /tools/${tool} in the document (paths: ${Object.keys(doc.paths ?? {}).join(', ')})`);
  return op;
}

/**
 * Validators of schemas of the document, compiled against the whole document, so that component $refs resolve
 * as they would for a consumer: `body(tool)` for a tool's request body, `schema(s)` for any schema found in it.
 */
export function schemaValidators(doc: OpenApiDoc): {
  body(tool: string): ValidateFunction;
  schema(schema: unknown): ValidateFunction;
} {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const base = 'https://openapi.test/doc.json';
  ajv.addSchema({ $id: base, components: doc.components });
  // A schema taken out of the document refers to components with document-local "#/..." references.
  const schema = (s: unknown) => ajv.compile(JSON.parse(JSON.stringify(s).replaceAll('"#/', `"${base}#/`)));
  return {
    body: (tool) => schema(toolOperation(doc, tool).requestBody.content['application/json'].schema),
    schema,
  };
}
