/**
 * `mcp-sidecar kong-config`: the decK export of the same desired state the Kong publisher converges on, checked
 * by decK itself (`deck file validate`, built from the Go module proxy by kong/install-deck.sh).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { kongConfigCommand, kongConfigMain } from '../../sidecar/kong-config.js';
import { MANAGED_BY_TAG, serverState } from '../../sidecar/mesh/kong-state.js';
import { toolRoutes } from '../../sidecar/mesh/kong-tool-routes.js';
import { deckBinary, deckValidate } from '../support/deck.js';
import { distRoot, everythingCommand, sidecarMain } from '../support/sidecar-process.js';

const run = promisify(execFile);
const repoRoot = join(distRoot, '..');

const MESH = [
  '--name',
  'everything',
  '--advertise',
  'everything:8080',
  '--name',
  'filesystem,memory',
  '--advertise',
  'filesystem:8080,memory:8080',
];

/** The decK variable the docker-compose mesh's export names for the sidecars' token (kong/kong.yaml). */
const TOKEN_ENV = 'DECK_MCP_UPSTREAM_TOKEN';

describe('mcp-sidecar kong-config', () => {
  let deck: string;
  before(async () => {
    deck = await deckBinary();
  });

  test('the export of a 3-server mesh passes deck file validate', async (t) => {
    const { exitCode, output } = kongConfigCommand(MESH);
    assert.equal(exitCode, 0, output);
    const result = await deckValidate(deck, output);
    t.diagnostic(`deck: ${deck}`);
    assert.equal(result.code, 0, `deck file validate rejected the export:\n${result.output}\n---\n${output}`);
  });

  test('kong/kong.yaml is the export of the docker-compose mesh, current and valid', async () => {
    const example = readFileSync(join(repoRoot, 'kong', 'kong.yaml'), 'utf8');
    const { output } = kongConfigCommand([
      '--name',
      'everything,filesystem,memory',
      '--advertise',
      'everything:8080,filesystem:8080,memory:8080',
      '--upstream-token-env',
      TOKEN_ENV,
    ]);
    assert.equal(
      example.trim(),
      output.trim(),
      `regenerate it: node dist/sidecar/main.js kong-config --name everything,filesystem,memory --advertise everything:8080,filesystem:8080,memory:8080 --upstream-token-env ${TOKEN_ENV} > kong/kong.yaml`,
    );
    const result = await deckValidate(deck, example, { [TOKEN_ENV]: 'a-token-0123' });
    assert.equal(result.code, 0, result.output);
  });

  test('--upstream-token-env: each service (plain and session) gets the upstream-auth plugin with a decK reference, never a token', async () => {
    const { exitCode, output } = kongConfigCommand([...MESH, '--upstream-token-env', TOKEN_ENV]);
    assert.equal(exitCode, 0, output);
    const doc = parse(output);
    assert.equal(doc.services.length, 6, 'two services per server');
    for (const service of doc.services) {
      const name = String(service.name)
        .replace(/^mcp-/, '')
        .replace(/-session$/, '');
      const state = serverState(name, undefined, undefined, `\${{ env "${TOKEN_ENV}" }}`);
      const path = service.name.endsWith('-session') ? state.session : state.plain;
      assert.deepEqual(service.plugins, [path.plugin]);
      assert.deepEqual(service.plugins[0].config.add.headers, [`Authorization:Bearer \${{ env "${TOKEN_ENV}" }}`]);
    }
    assert.equal(kongConfigCommand(MESH).output.includes('plugins'), false, 'no plugin without the option');
    const bad = kongConfigCommand([...MESH, '--upstream-token-env', 'TOKEN']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.output, /--upstream-token-env "TOKEN": decK reads only variables named DECK_<NAME>/);
  });

  test('--per-tool-routes: the tools of a handshake with the server command become the routes the publisher makes; deck file validate accepts them', async () => {
    const argv = [
      '--name',
      'everything',
      '--advertise',
      'everything:8080',
      '--per-tool-routes',
      '--tools-deny',
      'get-env',
    ];
    const { exitCode, output } = await kongConfigMain([...argv, '--', ...everythingCommand()]);
    assert.equal(exitCode, 0, output);
    const routes = parse(output).services[0].routes;
    assert.deepEqual(routes[0], serverState('everything', undefined).plain.route, "the server's route first");
    const tools = routes
      .slice(1)
      .filter((_: unknown, i: number) => i % 2 === 0)
      .map((r: { tags: string[] }) => r.tags.find((tag) => tag.startsWith('mcp-tool:'))!.slice('mcp-tool:'.length));
    assert.ok(tools.includes('echo') && tools.length >= 10, tools.join(','));
    assert.ok(!tools.includes('get-env'), '--tools-deny applies as in a run');
    assert.deepEqual(routes.slice(1), toolRoutes('everything', undefined, undefined, tools), "the publisher's routes");
    assert.match(output, new RegExp(`routes for ${tools.length} tools`));
    const result = await deckValidate(deck, output);
    assert.equal(result.code, 0, `deck file validate rejected the per-tool export:\n${result.output}`);

    const cases: Array<[string[], RegExp]> = [
      [['--name', 'a,b', '--per-tool-routes', '--', 'x'], /routes the tools of one server/],
      [['--name', 'a', '--per-tool-routes'], /needs the server command after "--"/],
      [['--name', 'a', '--', 'x'], /only used with --per-tool-routes/],
    ];
    for (const [bad, message] of cases) {
      const refused = await kongConfigMain(bad);
      assert.equal(refused.exitCode, 2, refused.output);
      assert.match(refused.output, message);
    }
    const broken = await kongConfigMain(['--name', 'a', '--per-tool-routes', '--', '/nonexistent/server']);
    assert.equal(broken.exitCode, 1);
    assert.match(broken.output, /did not complete the handshake, so its tools are unknown/);
  });

  test('deck file validate is a real check: a broken export is rejected', async () => {
    const doc = parse(kongConfigCommand(MESH).output);
    doc.upstreams[0].slots = 'many';
    doc.services[0].routes[0].paths = '/everything';
    const result = await deckValidate(deck, JSON.stringify(doc));
    assert.notEqual(result.code, 0);
    assert.match(result.output, /slots/);
    assert.match(result.output, /paths/);
  });

  test("the export is the publisher's desired state: same upstreams, services, routes; targets from --advertise", () => {
    const doc = parse(kongConfigCommand(MESH).output);
    assert.equal(doc._format_version, '3.0');
    assert.deepEqual(doc._info.select_tags, [MANAGED_BY_TAG]);
    const names = ['everything', 'filesystem', 'memory'];
    assert.deepEqual(
      doc.services.map((s: any) => s.name),
      names.flatMap((n) => [`mcp-${n}`, `mcp-${n}-session`]),
    );
    assert.deepEqual(
      doc.upstreams.map((u: any) => u.name),
      names.flatMap((n) => [`mcp-${n}-rr`, `mcp-${n}`]),
    );
    for (const name of names) {
      const expected = serverState(name, undefined);
      for (const path of [expected.plain, expected.session]) {
        const { routes, ...serviceFields } = doc.services.find((s: any) => s.name === path.service.name);
        assert.deepEqual(serviceFields, path.service);
        assert.deepEqual(routes, [path.route]);
        const { targets, ...upstreamFields } = doc.upstreams.find((u: any) => u.name === path.upstream.name);
        assert.deepEqual(upstreamFields, path.upstream);
        // Every instance is a target of both upstreams, as each sidecar adds itself to both.
        assert.deepEqual(targets, [
          {
            target: `${name}:8080`,
            weight: 100,
            tags: [MANAGED_BY_TAG, `mcp-server:${name}`, `instance:${name}-${name}-8080`],
          },
        ]);
      }
      // What decK applies balances both eras as the publisher does: sessions by header on their own route (the
      // MCP endpoint only, sent on as /mcp), the rest round-robin.
      const session = doc.services.find((s: any) => s.name === `mcp-${name}-session`);
      assert.equal(session.host, `mcp-${name}`);
      assert.equal(session.path, '/mcp');
      assert.deepEqual(session.routes[0].paths, [`/${name}/mcp`]);
      assert.deepEqual(session.routes[0].headers, { 'Mcp-Session-Id': ['~*.'] });
      assert.equal(doc.upstreams.find((u: any) => u.name === `mcp-${name}`).hash_on_header, 'Mcp-Session-Id');
      assert.equal(doc.services.find((s: any) => s.name === `mcp-${name}`).host, `mcp-${name}-rr`);
      assert.equal(doc.upstreams.find((u: any) => u.name === `mcp-${name}-rr`).algorithm, 'round-robin');
    }
  });

  test('a name given twice is one server with two targets; --route-path pairs with names; default advertise is <name>:8080', () => {
    const doc = parse(
      kongConfigCommand([
        '--name',
        'memory',
        '--name',
        'memory',
        '--name',
        'fs',
        '--advertise',
        '10.0.0.1:9000',
        '--advertise',
        '10.0.0.2:9000',
        '--advertise',
        '[fd00::3]:8080',
        '--route-path',
        '/mem,/mem,files',
      ]).output,
    );
    assert.equal(doc.upstreams.length, 4, 'two upstreams per server');
    const targetsOf = (name: string) =>
      doc.upstreams.find((u: any) => u.name === name).targets.map((t: any) => t.target);
    for (const upstream of ['mcp-memory', 'mcp-memory-rr'])
      assert.deepEqual(targetsOf(upstream), ['10.0.0.1:9000', '10.0.0.2:9000']);
    for (const upstream of ['mcp-fs', 'mcp-fs-rr']) assert.deepEqual(targetsOf(upstream), ['[fd00::3]:8080']);
    const pathsOf = (name: string) => doc.services.find((s: any) => s.name === name).routes[0].paths;
    assert.deepEqual(pathsOf('mcp-memory'), ['/mem']);
    assert.deepEqual(pathsOf('mcp-memory-session'), ['/mem/mcp']);
    assert.deepEqual(pathsOf('mcp-fs'), ['/files']);
    assert.deepEqual(pathsOf('mcp-fs-session'), ['/files/mcp']);
    const defaults = parse(kongConfigCommand(['--name', 'memory']).output);
    assert.deepEqual(
      defaults.upstreams[0].targets.map((t: any) => t.target),
      ['memory:8080'],
    );
  });

  test('bad flags exit 2 with a message that names the cause; --help exits 0', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /at least one --name/],
      [['--name', 'a', '--port', '1'], /unknown option --port/],
      [['--name', 'a,b', '--advertise', 'h:1'], /1 --advertise for 2 --name/],
      [['--name', 'a', '--advertise', 'nohostport'], /--advertise "nohostport": use host:port/],
      [['--name', 'a', '--advertise', 'h:70000'], /use host:port/],
      [['--name', 'bad name'], /--name "bad name"/],
      [['--name'], /--name needs a value/],
      [['stray'], /unexpected argument "stray"/],
      [['--name', 'a,b', '--route-path', '/x,/x'], /share route path \/x/],
      [['--name', 'a,,b'], /empty item/],
      [['--name', 'a', '--route-path', '/a b'], /--route-path "\/a b": use a URL path/],
      [['--name', 'a', '--advertise', '--route-path', '/a'], /--advertise needs a value/],
      [['--name', 'a', '--', 'extra'], /unexpected argument "extra"/],
      [['--name', 'a', '--no-help=1'], /--no-help takes no value/],
    ];
    for (const [argv, message] of cases) {
      const { exitCode, output } = kongConfigCommand(argv);
      assert.equal(exitCode, 2, `${argv.join(' ')} → ${output}`);
      assert.match(output, message);
      assert.match(output, /kong-config --help/);
    }
    const help = kongConfigCommand(['--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.output, /--advertise <host:port>/);
    assert.deepEqual(kongConfigCommand(['-h']), help);
    assert.doesNotMatch(help.output, /MCP_SIDECAR_/, 'kong-config reads no environment');
  });

  test('the mcp-sidecar command prints the same file (and exit 2 plus stderr for bad flags)', async () => {
    const { stdout } = await run(process.execPath, [sidecarMain, 'kong-config', ...MESH], { timeout: 30_000 });
    assert.equal(stdout.trim(), kongConfigCommand(MESH).output.trim());
    await assert.rejects(
      run(process.execPath, [sidecarMain, 'kong-config', '--bogus'], { timeout: 30_000 }),
      (err: Error & { code?: number; stderr?: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr ?? '', /unknown option --bogus/);
        return true;
      },
    );
  });
});
