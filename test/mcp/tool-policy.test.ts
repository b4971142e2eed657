/** The tool policy's rules: globs, deny over allow, and what a hidden tool's call and list look like. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToolPolicy, unknownTool } from '../../sidecar/mcp/tool-policy.js';

const names = ['echo', 'add', 'slow', 'slow-readonly', 'slow-write', 'get.file', 'getXfile'];
const visible = (allow: string[], deny: string[]) =>
  new ToolPolicy(allow, deny).filter(names.map((name) => ({ name }))).map((t) => t.name);

test('no lists: every tool exists; allow: only those; deny: all but those; deny wins', () => {
  assert.deepEqual(visible([], []), names);
  assert.equal(new ToolPolicy([], []).open, true);
  assert.deepEqual(visible(['echo', 'slow*'], []), ['echo', 'slow', 'slow-readonly', 'slow-write']);
  assert.deepEqual(visible([], ['slow-*']), ['echo', 'add', 'slow', 'get.file', 'getXfile']);
  assert.deepEqual(visible(['slow*'], ['*-write']), ['slow', 'slow-readonly']);
  assert.deepEqual(visible(['*'], ['*']), []);
});

test('a glob is * and literal text: regex characters mean themselves, the whole name must match', () => {
  assert.deepEqual(visible(['get.file'], []), ['get.file'], '"." is a dot, not any character');
  assert.deepEqual(visible(['slo'], []), [], 'no prefix match');
  assert.deepEqual(visible(['*read*'], []), ['slow-readonly']);
  const policy = new ToolPolicy(['echo'], []);
  assert.equal(policy.allows(undefined), false, 'a call without a name is no allowed tool');
  assert.equal(policy.allows('(echo)'), false);
});

test('a tools/list page loses the hidden tools; a hidden call gets what a server says for an unknown tool', () => {
  const result: Record<string, unknown> = { tools: [{ name: 'echo' }, { name: 'add' }], nextCursor: 'c2' };
  new ToolPolicy([], ['add']).filterResult(result, undefined);
  assert.deepEqual(result, { tools: [{ name: 'echo' }], nextCursor: 'c2' });
  assert.deepEqual(unknownTool(7, 'add'), {
    jsonrpc: '2.0',
    id: 7,
    error: { code: -32602, message: 'Tool add not found' },
  });
});

test('--tool-scope: a scoped tool exists for some callers (the profile) and only for callers granted its scope', () => {
  const policy = new ToolPolicy(
    [],
    ['add'],
    [
      ['slow-*', 'mcp:slow'],
      ['slow-write', 'mcp:write'],
    ],
  );
  assert.equal(policy.open, false);
  assert.equal(policy.scoped, true);
  const tools = names.map((name) => ({ name }));
  const forCaller = (...scopes: string[]) =>
    policy.filterFor(tools, { sub: 'u', scopes: new Set(scopes) }).map((t) => t.name);
  assert.deepEqual(
    policy.filter(tools).map((t) => t.name),
    names.filter((n) => n !== 'add'),
    'the profile keeps scoped tools',
  );
  const unscoped = ['echo', 'slow', 'get.file', 'getXfile'];
  assert.deepEqual(forCaller(), unscoped);
  assert.deepEqual(
    policy.filterFor(tools, undefined).map((t) => t.name),
    unscoped,
    'no caller: no scope granted',
  );
  assert.deepEqual(forCaller('mcp:slow'), [...unscoped.slice(0, 2), 'slow-readonly', ...unscoped.slice(2)]);
  assert.deepEqual(forCaller('mcp:write'), unscoped, 'every matching scope is needed');
  assert.ok(forCaller('mcp:slow', 'mcp:write').includes('slow-write'));
  assert.equal(policy.allowsFor('add', { sub: 'u', scopes: new Set(['mcp:slow']) }), false, 'deny still wins');
  const page: Record<string, unknown> = { tools: [{ name: 'echo' }, { name: 'slow-readonly' }] };
  policy.filterResult(page, { sub: 'u', scopes: new Set() });
  assert.deepEqual(page, { tools: [{ name: 'echo' }] });
});

test('* matches any characters, line breaks too: a tool name with a newline cannot slip past a deny glob or a scope', () => {
  const sneaky = 'delete_\nall';
  assert.equal(new ToolPolicy([], ['delete_*']).allows(sneaky), false);
  assert.equal(new ToolPolicy(['echo*'], []).allows('echo\n'), true);
  const scoped = new ToolPolicy([], [], [['delete_*', 'mcp:admin']]);
  assert.equal(scoped.allowsFor(sneaky, { sub: 'bob', scopes: new Set(['mcp:tools']) }), false);
});
