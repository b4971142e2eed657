/**
 * kong/per-tool-plugins.yaml, the README's example of operator policy on per-tool routes (rate-limiting on one
 * tool, acl + key-auth on another): every route it names is one that `kong-config --per-tool-routes` exports for
 * server-memory (and so one the publisher creates), every plugin is a body Kong's Admin API document accepts for
 * that route, and decK validates it together with the export.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { kongConfigMain } from '../../sidecar/kong-config.js';
import { deckBinary, deckValidate } from '../support/deck.js';
import { KongAdminDouble } from '../support/kong-admin-double.js';
import { distRoot, memoryCommand } from '../support/sidecar-process.js';

describe('kong/per-tool-plugins.yaml', () => {
  let deck: string;
  let kong: KongAdminDouble;
  before(async () => {
    deck = await deckBinary();
    kong = await KongAdminDouble.start();
  });
  after(() => kong.stop());

  test("names only routes of the memory server's export, with plugin bodies Kong accepts; decK validates both together", async () => {
    const policy = parse(readFileSync(join(distRoot, '..', 'kong', 'per-tool-plugins.yaml'), 'utf8'));
    // Only a handshake: server-memory lists its tools and writes nothing.
    const exported = await kongConfigMain(['--name', 'memory', '--per-tool-routes', '--', ...memoryCommand()]);
    assert.equal(exported.exitCode, 0, exported.output);
    const state = parse(exported.output);
    const routes = new Set(state.services[0].routes.map((r: { name: string }) => r.name));
    const named = policy.plugins.map((p: { route: string }) => p.route);
    for (const route of named) assert.ok(routes.has(route), `${route} is a route of the export`);
    assert.deepEqual([...new Set(policy.plugins.map((p: { name: string }) => p.name))].sort(), [
      'acl',
      'key-auth',
      'rate-limiting',
    ]);
    for (const { route, ...plugin } of policy.plugins)
      assert.deepEqual(kong.validate('POST', `/routes/${route}/plugins`, plugin), [], `${plugin.name} on ${route}`);

    // Offline, decK cannot look up the sidecars' routes by tag: it validates the policy inside the export.
    const merged = { ...state, plugins: policy.plugins, consumers: policy.consumers };
    for (const entity of [...merged.plugins, ...merged.consumers])
      entity.tags = [...entity.tags, ...state._info.select_tags];
    const result = await deckValidate(deck, stringify(merged));
    assert.equal(result.code, 0, result.output);
  });
});
