/**
 * The local mesh files, checked without a Docker engine: docker-compose.yml parsed (services, healthchecks,
 * depends_on conditions, the Admin API on loopback, sidecar flags the sidecar really accepts) and
 * deploy/Dockerfile read (only the npm registry, through npm ci and lockfiles; non-root; /readyz healthcheck).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../sidecar/config.js';
import { distRoot } from '../support/sidecar-process.js';

const repoRoot = join(distRoot, '..');
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, any>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const SIDECARS = ['everything', 'filesystem', 'memory'];
const INFRA = ['consul', 'postgres', 'kong-migrations', 'kong', 'mesh-token'];
/** One-shot services: they run to completion, so they have no healthcheck. */
const ONE_SHOT = ['kong-migrations', 'mesh-token'];

/** The sidecar's options (before `--`) of a compose service, as a map flag → values, and the server command. */
function sidecarArgs(service: string): { flags: Map<string, string[]>; server: string[]; argv: string[] } {
  const argv: string[] = services[service].command;
  const dash = argv.indexOf('--');
  const flags = new Map<string, string[]>();
  for (const arg of argv.slice(0, dash)) {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    assert.ok(m, `${service}: write options as --flag=value (got ${arg})`);
    flags.set(m[1], [...(flags.get(m[1]) ?? []), m[2]]);
  }
  return { flags, server: argv.slice(dash + 1), argv };
}

/** Published ports as [hostIp, hostPort, containerPort]. */
function published(service: string): Array<[string, string, string]> {
  return (services[service].ports ?? []).map((p: string) => {
    const parts = String(p).split(':');
    return parts.length === 3 ? [parts[0], parts[1], parts[2]] : ['0.0.0.0', parts[0], parts[1]];
  });
}

describe('docker-compose.yml', () => {
  test('has Consul, Postgres, Kong migrations, Kong and the three sidecars', () => {
    for (const name of [...INFRA, ...SIDECARS]) assert.ok(services[name], `service ${name}`);
    assert.match(services.kong.image, /^kong:3\.9/);
    assert.match(services['kong-migrations'].image, /^kong:3\.9/);
    assert.match(services.postgres.image, /^postgres:16/);
    assert.match(services.consul.image, /consul/);
    assert.match(services['kong-migrations'].command.join(' '), /kong migrations bootstrap/);
  });

  test('every long-running service has a healthcheck; the sidecars check /readyz', () => {
    for (const name of [...INFRA.filter((n) => !ONE_SHOT.includes(n)), ...SIDECARS]) {
      const test = services[name].healthcheck?.test;
      assert.ok(
        Array.isArray(test) && test.length > 1 && ['CMD', 'CMD-SHELL'].includes(test[0]),
        `${name} healthcheck`,
      );
    }
    for (const name of SIDECARS) assert.match(services[name].healthcheck.test.join(' '), /\/readyz/);
    assert.match(services.consul.healthcheck.test.join(' '), /status\/leader/);
    assert.deepEqual(services.kong.healthcheck.test, ['CMD', 'kong', 'health']);
  });

  test('depends_on gives a clean start order: Postgres healthy → migrations done → Kong healthy → sidecars', () => {
    const cond = (svc: string) =>
      Object.fromEntries(
        Object.entries(services[svc].depends_on ?? {}).map(([k, v]: [string, any]) => [k, v.condition]),
      );
    assert.deepEqual(cond('kong-migrations'), { postgres: 'service_healthy' });
    assert.deepEqual(cond('kong'), {
      postgres: 'service_healthy',
      'kong-migrations': 'service_completed_successfully',
    });
    for (const name of SIDECARS)
      assert.deepEqual(cond(name), {
        consul: 'service_healthy',
        kong: 'service_healthy',
        'mesh-token': 'service_completed_successfully',
      });
    // Every dependency exists and the graph has no cycle (a topological order exists).
    const order: string[] = [];
    const pending = new Set(Object.keys(services));
    for (let round = 0; round < 20 && pending.size > 0; round++) {
      for (const name of [...pending]) {
        const deps = Object.keys(services[name].depends_on ?? {});
        for (const d of deps) assert.ok(services[d], `${name} depends on unknown service ${d}`);
        if (deps.every((d) => order.includes(d))) {
          order.push(name);
          pending.delete(name);
        }
      }
    }
    assert.equal(pending.size, 0, `cycle among ${[...pending].join(', ')}`);
  });

  test("Kong's Admin API is published on loopback only; the proxy and the Consul UI are published", () => {
    const admin = published('kong').filter(([, , container]) => container === '8001');
    assert.ok(admin.length > 0, 'Admin API published for the operator');
    for (const [ip] of admin) assert.equal(ip, '127.0.0.1', 'Admin API on loopback only');
    assert.ok(
      published('kong').some(([, host, container]) => host === '8000' && container === '8000'),
      'proxy on 8000',
    );
    assert.ok(
      published('consul').some(([, host, container]) => host === '8500' && container === '8500'),
      'Consul UI on 8500',
    );
    for (const name of SIDECARS)
      assert.equal(services[name].ports, undefined, `${name} is reached through Kong, not published`);
  });

  test('the sidecars: built from deploy/Dockerfile, 0.0.0.0, advertised by service name, Consul and Kong on the compose network', () => {
    for (const name of SIDECARS) {
      const svc = services[name];
      assert.equal(svc.build.dockerfile, 'deploy/Dockerfile');
      assert.equal(svc.build.context, '.');
      const { flags, server } = sidecarArgs(name);
      assert.deepEqual(flags.get('name'), [name]);
      assert.deepEqual(flags.get('host'), ['0.0.0.0']);
      assert.deepEqual(flags.get('advertise'), [`${name}:8080`]);
      assert.deepEqual(flags.get('consul'), ['http://consul:8500']);
      assert.deepEqual(flags.get('kong-admin'), ['http://kong:8001']);
      assert.ok(
        flags.get('allowed-hosts')?.[0].split(',').includes(`mcp-${name}`),
        'Kong proxies with Host: mcp-<name>',
      );
      assert.equal(server[0], `mcp-server-${name}`);
    }
    assert.deepEqual(sidecarArgs('filesystem').server.slice(1), ['/data']);
    assert.ok(services.filesystem.volumes.includes('filesystem-data:/data'));
    assert.ok(services.memory.volumes.includes('memory-data:/data'));
    assert.ok(sidecarArgs('memory').flags.get('env')?.includes('MEMORY_FILE_PATH=/data/memory.jsonl'));
    for (const volume of ['kong-db', 'filesystem-data', 'memory-data'])
      assert.ok(compose.volumes && volume in compose.volumes, `volume ${volume} declared`);
  });

  test('the sidecars listen on the network only with bearer auth; Kong sends the token that mesh-token makes', () => {
    const maker = services['mesh-token'];
    assert.match(maker.command.join(' '), /\/dev\/urandom/, 'a random token');
    assert.match(maker.command.join(' '), /test -s \/run\/mesh\/token \|\|/, 'made once, kept on restarts');
    assert.ok(maker.volumes.includes('mesh-token:/run/mesh'));
    for (const name of SIDECARS) {
      const { flags } = sidecarArgs(name);
      assert.deepEqual(flags.get('auth'), ['bearer'], `${name}: --auth bearer`);
      assert.deepEqual(flags.get('auth-token-file'), ['/run/mesh/token']);
      assert.deepEqual(flags.get('kong-upstream-token-file'), ['/run/mesh/token'], 'Kong sends the accepted token');
      assert.ok(services[name].volumes.includes('mesh-token:/run/mesh:ro'), `${name} mounts the token read-only`);
    }
    assert.ok(compose.volumes && 'mesh-token' in compose.volumes);
  });

  test("each sidecar's command line is accepted by the sidecar's own parser", () => {
    const token = 'a'.repeat(64);
    for (const name of SIDECARS) {
      const { argv } = sidecarArgs(name);
      const files: string[] = [];
      const config = parseConfig(argv, {}, (path) => (files.push(path), `${token}\n`));
      assert.deepEqual(config.auth, { mode: 'bearer', tokenFile: '/run/mesh/token' });
      assert.equal(config.kong?.upstreamToken, token);
      assert.deepEqual(files, ['/run/mesh/token', '/run/mesh/token']);
      assert.equal(config.name, name);
      assert.equal(config.kong?.adminUrl, 'http://kong:8001');
      assert.equal(config.consul?.url, 'http://consul:8500');
      assert.deepEqual(config.advertise, { host: name, port: 8080 });
      assert.equal(config.command, `mcp-server-${name}`);
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const runs = instructions.filter((l) => /^RUN /i.test(l)).map((l) => l.slice(4));

  test('builds on node:24-slim (Node 24 LTS), as a non-root user, with a /readyz HEALTHCHECK and the mcp-sidecar ENTRYPOINT', () => {
    const froms = instructions.filter((l) => /^FROM /i.test(l));
    assert.ok(froms.length >= 1);
    for (const from of froms) assert.match(from, /^FROM node:24-slim( AS \w+)?$/i);
    const user = instructions.filter((l) => /^USER /i.test(l)).at(-1);
    assert.ok(user && !/^USER (root|0)(:|$)/i.test(user), `runs as a non-root user (${user})`);
    assert.match(instructions.find((l) => /^HEALTHCHECK /i.test(l)) ?? '', /\/readyz/);
    assert.match(instructions.find((l) => /^ENTRYPOINT /i.test(l)) ?? '', /^ENTRYPOINT \["mcp-sidecar"\]$/);
  });

  test('the default command serves on all interfaces with bearer auth, and the sidecar accepts it', () => {
    const cmd = instructions.find((l) => /^CMD /i.test(l));
    assert.ok(cmd, 'a CMD');
    const argv = JSON.parse(cmd.slice(4)) as string[];
    const config = parseConfig(argv, {}, () => 'secret-token\n');
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(config.auth, { mode: 'bearer', tokenFile: '/run/secrets/mcp-sidecar-token' });
  });

  test('installs packages only from the npm registry: npm ci with lockfiles, nothing fetched any other way', () => {
    assert.ok(!instructions.some((l) => /^ADD /i.test(l)), 'no ADD (it can fetch URLs and unpack archives)');
    for (const run of runs) {
      assert.doesNotMatch(run, /\b(curl|wget|git|apt-get|apk|pip|yarn|pnpm)\b/, `only npm: ${run}`);
      assert.doesNotMatch(run, /--registry|npm config set|npm_config_registry/i, `the default (npm) registry: ${run}`);
      assert.doesNotMatch(run, /\bnpm (i|install|add)\b/, `npm ci, not npm install: ${run}`);
      assert.doesNotMatch(run, /https?:\/\//, `no URLs: ${run}`);
    }
    assert.ok(!/NPM_CONFIG_REGISTRY|npm_config_registry/i.test(dockerfile));
    const ci = runs.filter((r) => /\bnpm ci\b/.test(r));
    assert.ok(
      ci.some((r) => /--omit=dev/.test(r)),
      'a runtime npm ci without dev dependencies (it keeps the optional mesh servers)',
    );
    // Every npm ci runs where the lockfile was copied first.
    const copies = instructions.filter((l) => /^COPY /i.test(l) && /package-lock\.json/.test(l));
    assert.ok(copies.some((c) => / package-lock\.json/.test(c)));
  });

  test('the lockfiles resolve every package from the registry (versions with integrity; no git, file or tarball URLs)', () => {
    for (const path of ['package-lock.json']) {
      const lock = JSON.parse(read(path)) as {
        packages: Record<string, { version?: string; resolved?: string; integrity?: string; link?: boolean }>;
      };
      const hosts = new Set<string>();
      for (const [key, pkg] of Object.entries(lock.packages)) {
        if (key === '') continue;
        assert.ok(!pkg.link, `${path} ${key}: a link, not a registry package`);
        assert.match(pkg.version ?? '', /^\d+\.\d+\.\d+/, `${path} ${key}: a registry version`);
        assert.match(pkg.integrity ?? '', /^sha512-/, `${path} ${key}: integrity`);
        if (pkg.resolved) {
          const url = new URL(pkg.resolved);
          assert.equal(url.protocol, 'https:', `${path} ${key}: ${pkg.resolved}`);
          assert.match(url.pathname, /\/-\/[^/]+\.tgz$/, `${path} ${key}: a registry tarball (${pkg.resolved})`);
          hosts.add(url.host);
        }
      }
      assert.ok(hosts.size <= 1, `${path}: one registry (${[...hosts].join(', ')})`);
    }
  });

  test('the servers the compose file runs are runtime dependencies of the image, with those bin names', () => {
    const require = createRequire(join(repoRoot, 'package.json'));
    const root = JSON.parse(read('package.json'));
    const inImage: Record<string, string> = { ...root.dependencies, ...root.optionalDependencies };
    for (const name of SIDECARS) {
      const pkg = `@modelcontextprotocol/server-${name}`;
      assert.ok(inImage[pkg], `${pkg} is a runtime or optional dependency (npm ci --omit=dev keeps both)`);
      const manifest = require(`${pkg}/package.json`) as { version: string; bin: Record<string, string> };
      assert.ok(manifest.bin[`mcp-server-${name}`], `${pkg} provides mcp-server-${name}`);
    }
    for (const name of SIDECARS)
      assert.ok(
        !root.devDependencies[`@modelcontextprotocol/server-${name}`],
        'one declaration: the image runs the version the tests use',
      );
  });

  test('the build context holds what the Dockerfile copies (deploy/Dockerfile.dockerignore)', () => {
    const ignore = read('deploy/Dockerfile.dockerignore');
    for (const copied of ['package.json', 'package-lock.json', 'tsconfig.json', 'sidecar/**']) {
      assert.ok(ignore.split('\n').includes(`!${copied}`), `${copied} is in the context`);
    }
  });
});
