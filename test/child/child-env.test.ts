/** The server's environment: an allowlist of the sidecar's variables plus --pass-env names plus --env pairs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PASSED_ENV, childEnvironment } from '../../sidecar/child/child-env.js';

const source = {
  PATH: '/usr/bin',
  HOME: '/home/me',
  CONSUL_HTTP_TOKEN: 'secret-token',
  MCP_SIDECAR_CONSUL_TOKEN_FILE: '/run/token',
  AWS_SECRET_ACCESS_KEY: 'aws',
  GITHUB_TOKEN: 'gh',
  EXTRA: 'passed on request',
};

test('only allowlisted variables pass: registry tokens and other secrets stay with the sidecar', () => {
  const env = childEnvironment(source, [], {});
  assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/home/me' });
  assert.ok(DEFAULT_PASSED_ENV.includes('PATH'));
  assert.ok(!DEFAULT_PASSED_ENV.some((n) => /TOKEN|SECRET|CONSUL|KONG/.test(n)));
});

test('--pass-env adds names from the sidecar environment; missing ones are skipped, not set empty', () => {
  const env = childEnvironment(source, ['EXTRA', 'GITHUB_TOKEN', 'NOT_SET'], {});
  assert.equal(env.EXTRA, 'passed on request');
  assert.equal(env.GITHUB_TOKEN, 'gh');
  assert.ok(!('NOT_SET' in env));
});

test('--env pairs are set and win over passed variables', () => {
  const env = childEnvironment(source, ['EXTRA'], {
    EXTRA: 'explicit',
    MEMORY_FILE_PATH: '/tmp/m.json',
    PATH: '/opt/bin',
  });
  assert.equal(env.EXTRA, 'explicit');
  assert.equal(env.MEMORY_FILE_PATH, '/tmp/m.json');
  assert.equal(env.PATH, '/opt/bin');
});
