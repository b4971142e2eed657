/**
 * The document generator on tool lists the real servers do not have: local $refs (2020-12 `$defs`, draft-07
 * `definitions`, the root `#`), draft-07 tuples and dependencies, a property named `$ref`, tool names that are
 * not identifiers, scopes; each document must still pass the OpenAPI 3.1 validator and its body schemas behave.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ifNoneMatch } from '../../sidecar/http/openapi-route.js';
import { openApiDocument, operationIds } from '../../sidecar/openapi/document.js';
import { componentSchema } from '../../sidecar/openapi/tool-schema.js';
import { testProfile } from '../support/mesh-fixtures.js';
import { assertValidOpenApi, schemaValidators } from '../support/openapi.js';

const treeTool: Tool = {
  name: 'tree',
  inputSchema: {
    type: 'object',
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    properties: { root: { $ref: '#/$defs/node' }, $ref: { type: 'string' } },
    required: ['root'],
    $defs: {
      node: {
        type: 'object',
        properties: { label: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } },
        required: ['label'],
      },
    },
  },
};

const draft07Tool: Tool = {
  name: 'pair.v2',
  inputSchema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://example.com/pair',
    type: 'object',
    properties: {
      pair: { type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false },
      point: { $ref: '#/definitions/point' },
      self: { $ref: '#' },
      card: { type: 'string' },
      billing: { type: 'string' },
    },
    dependencies: { card: ['billing'] },
    definitions: { point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
  } as Tool['inputSchema'],
  outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
};

test('local $refs are rebased onto the component; $schema and $id dropped; draft-07 tuples and dependencies become 2020-12', () => {
  const schema = componentSchema(draft07Tool.inputSchema as never, 'pair.v2.input') as any;
  assert.equal(schema.$schema, undefined);
  assert.equal(schema.$id, undefined);
  assert.equal(schema.properties.point.$ref, '#/components/schemas/pair.v2.input/definitions/point');
  assert.equal(schema.properties.self.$ref, '#/components/schemas/pair.v2.input');
  assert.deepEqual(schema.properties.pair, {
    type: 'array',
    prefixItems: [{ type: 'string' }, { type: 'number' }],
    items: false,
  });
  assert.deepEqual(schema.dependentRequired, { card: ['billing'] });
  const tree = componentSchema(treeTool.inputSchema as never, 'tree.input') as any;
  assert.deepEqual(tree.properties.$ref, { type: 'string' }, 'a property named $ref stays a property');
  assert.equal(tree.$defs.node.properties.children.items.$ref, '#/components/schemas/tree.input/$defs/node');
});

test('a document with such tools is valid OpenAPI 3.1 and its bodies follow the references', async () => {
  const tools = [treeTool, draft07Tool];
  const doc = openApiDocument(testProfile([]), tools, {
    servers: [{ url: 'http://127.0.0.1:8080', description: 'x' }],
    auth: 'none',
  });
  await assertValidOpenApi(doc);
  const { body } = schemaValidators(doc);
  assert.ok(body('tree')({ root: { label: 'a', children: [{ label: 'b', children: [] }] } }));
  assert.equal(
    body('tree')({ root: { label: 'a', children: [{ children: [] }] } }),
    false,
    'the recursive $ref is followed',
  );
  assert.ok(body('pair.v2')({ pair: ['a', 1], point: { x: 1 }, self: { point: { x: 2 } } }));
  assert.equal(body('pair.v2')({ pair: ['a', 'b'] }), false, 'tuple types');
  assert.equal(body('pair.v2')({ point: {} }), false, 'definitions reached');
  assert.equal(body('pair.v2')({ self: { point: {} } }), false, 'the root reached');
  assert.equal(body('pair.v2')({ card: '4111' }), false, 'dependentRequired');
});

test('operationId is the tool name when it can be; odd characters and clashes are made valid and unique', () => {
  assert.deepEqual(
    [...operationIds(['echo', 'get-sum', 'a.b_c', 'a b', 'a_b', 'a/b', 'ü']).values()],
    ['echo', 'get-sum', 'a.b_c', 'a_b', 'a_b_2', 'a_b_3', '_'],
  );
});

test('with --auth jwt: bearer security, and each scoped operation names the scopes it needs', async () => {
  const doc = openApiDocument(testProfile(['open', 'admin_delete']), testProfile(['open', 'admin_delete']).tools, {
    servers: [],
    auth: 'jwt',
    scopesFor: (tool) => (tool.startsWith('admin_') ? ['mcp:tools', 'mcp:admin'] : ['mcp:tools']),
  }) as any;
  await assertValidOpenApi(doc);
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  assert.deepEqual(doc.paths['/tools/admin_delete'].post.security, [{ bearerAuth: ['mcp:tools', 'mcp:admin'] }]);
  assert.ok(doc.paths['/tools/open'].post.responses['401'] && doc.paths['/tools/open'].post.responses['403']);
});

test('If-None-Match: a list, weak tags and * match; another tag does not', () => {
  assert.equal(ifNoneMatch(undefined, '"a"'), false);
  assert.equal(ifNoneMatch('"a"', '"a"'), true);
  assert.equal(ifNoneMatch('"b", W/"a"', '"a"'), true);
  assert.equal(ifNoneMatch('*', '"a"'), true);
  assert.equal(ifNoneMatch('"b"', '"a"'), false);
});
