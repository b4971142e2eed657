/** DNS-rebinding and cross-site protection: which Host and Origin headers reach /mcp and /tools. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NextFunction, Request, Response } from 'express';
import {
  buildOriginPolicy,
  hostnameOf,
  isLoopback,
  originGuard,
  type OriginPolicy,
} from '../../sidecar/http/origin-guard.js';

/** Runs the guard on a request with these headers: 'next' when it passes, else the status and message. */
function check(
  policy: OriginPolicy,
  headers: Record<string, string | undefined>,
): { passed: true } | { passed: false; status: number; message: string } {
  let outcome: { passed: true } | { passed: false; status: number; message: string } | undefined;
  const res = {
    status: 0,
    writeHead(status: number) {
      this.status = status;
      return this;
    },
    end(body: string) {
      outcome = { passed: false, status: this.status, message: JSON.parse(body).error.message };
    },
  };
  const next: NextFunction = () => (outcome = { passed: true });
  originGuard(policy)({ headers } as unknown as Request, res as unknown as Response, next);
  assert.ok(outcome, 'the guard neither passed nor answered');
  return outcome;
}

test('hostnameOf strips ports and keeps IPv6 brackets', () => {
  assert.equal(hostnameOf('localhost:8080'), 'localhost');
  assert.equal(hostnameOf('Example.COM'), 'example.com');
  assert.equal(hostnameOf('[::1]:80'), '[::1]');
  assert.equal(hostnameOf('127.0.0.1'), '127.0.0.1');
  assert.ok(isLoopback('127.1.2.3') && isLoopback('localhost') && !isLoopback('10.0.0.1'));
});

test("bound to loopback: only loopback Host names pass (a rebinding attacker's name does not)", () => {
  const policy = buildOriginPolicy('127.0.0.1', [], [], []);
  assert.deepEqual(check(policy, { host: '127.0.0.1:8080' }), { passed: true });
  assert.deepEqual(check(policy, { host: 'localhost:8080' }), { passed: true });
  const evil = check(policy, { host: 'evil.example.com:8080' });
  assert.equal(evil.passed, false);
  assert.equal(!evil.passed && evil.status, 403);
  assert.match(!evil.passed ? evil.message : '', /Host "evil\.example\.com:8080" is not allowed.*--allowed-hosts/);
  assert.equal(check(policy, {}).passed, false, 'no Host header at all');
});

test('the advertised name and --allowed-hosts are accepted', () => {
  assert.deepEqual(
    check(buildOriginPolicy('127.0.0.1', ['sidecar.internal'], [], []), { host: 'sidecar.internal:8080' }),
    { passed: true },
  );
  const policy = buildOriginPolicy('0.0.0.0', [], ['mcp.example.com'], []);
  assert.deepEqual(check(policy, { host: 'MCP.example.com' }), { passed: true });
  assert.equal(check(policy, { host: 'other.example.com' }).passed, false);
  const behindKong = buildOriginPolicy('0.0.0.0', ['mcp-everything'], ['everything'], []);
  assert.deepEqual(
    check(behindKong, { host: 'mcp-everything:8080' }),
    { passed: true },
    "Kong's upstream name passes with --allowed-hosts too",
  );
});

test('bound to all interfaces without --allowed-hosts: any Host passes', () => {
  const policy = buildOriginPolicy('0.0.0.0', [], [], []);
  assert.equal(policy.allowedHosts, undefined);
  assert.deepEqual(check(policy, { host: '10.1.2.3:8080' }), { passed: true });
});

test('Origin: loopback and same-host pass, foreign sites and "null" are refused, --allowed-origins opens one', () => {
  const policy = buildOriginPolicy('127.0.0.1', [], [], ['https://app.example.com/']);
  assert.deepEqual(check(policy, { host: 'localhost:1', origin: 'http://localhost:3000' }), { passed: true });
  assert.deepEqual(check(policy, { host: 'localhost:1', origin: 'https://app.example.com' }), { passed: true });
  const foreign = check(policy, { host: 'localhost:1', origin: 'https://evil.example.com' });
  assert.equal(foreign.passed, false);
  assert.match(!foreign.passed ? foreign.message : '', /Origin "https:\/\/evil\.example\.com" is not allowed/);
  assert.equal(check(policy, { host: 'localhost:1', origin: 'null' }).passed, false);
  assert.equal(check(policy, { host: 'localhost:1', origin: 'not a url' }).passed, false);
  const open = buildOriginPolicy('0.0.0.0', [], [], []);
  assert.deepEqual(check(open, { host: 'mesh.local:8080', origin: 'http://mesh.local:8080' }), { passed: true });
  assert.equal(check(open, { host: 'mesh.local:8080', origin: 'http://evil.example.com' }).passed, false);
});

test('loopback is parsed, never a prefix: 127.0.0.0/8 as four decimal octets, ::1, localhost', () => {
  for (const good of ['127.0.0.1', '127.1.2.3', '127.255.255.255', 'localhost', 'LOCALHOST', '::1', '[::1]'])
    assert.ok(isLoopback(good), good);
  const attacks = [
    '127.attacker.example',
    '127.0.0.1.evil.com',
    'localhost.evil.com',
    '[::1].evil',
    '0x7f.0.0.1',
    '0x7f000001',
    '0177.0.0.1',
    '127.1',
    '127.0.0.256',
    '127.0.0.01',
    '2130706433',
    'localhost.',
    '128.0.0.1',
    '::ffff:127.0.0.1',
    '[::1',
  ];
  for (const bad of attacks) assert.equal(isLoopback(bad), false, bad);
  assert.equal(hostnameOf('[::1].evil'), undefined, 'a bracketed IPv6 host ends at its bracket');
  assert.equal(hostnameOf('localhost:8080/path'), undefined);
  assert.equal(hostnameOf('user@localhost'), undefined);
});

test('Origin: attack origins that look like loopback are refused; real loopback origins pass', () => {
  const policy = buildOriginPolicy('127.0.0.1', [], [], []);
  const attacks = [
    'http://127.attacker.example',
    'http://127.0.0.1.evil.com',
    'http://localhost.evil.com',
    'http://[::1].evil',
    'http://0x7f.0.0.1',
    'http://0x7f.0.0.1:8080',
    'http://0177.0.0.1',
    'http://2130706433',
    'http://localhost:3000/path',
    'ftp://localhost',
    'http://localhost@evil.com',
  ];
  for (const origin of attacks) {
    const outcome = check(policy, { host: '127.0.0.1:8080', origin });
    assert.equal(outcome.passed, false, origin);
    assert.equal(!outcome.passed && outcome.status, 403, origin);
  }
  for (const origin of [
    'http://127.0.0.1',
    'http://127.0.0.1:5173',
    'https://127.9.8.7:1',
    'http://localhost:3000',
    'http://[::1]:8080',
  ]) {
    assert.deepEqual(check(policy, { host: '127.0.0.1:8080', origin }), { passed: true }, origin);
  }
});

test('Host: the same parsed loopback rule, and a malformed Host is refused', () => {
  const policy = buildOriginPolicy('127.0.0.1', [], [], []);
  for (const host of ['127.0.0.2:8080', 'localhost', '[::1]:8080'])
    assert.deepEqual(check(policy, { host }), { passed: true }, host);
  for (const host of [
    '127.attacker.example:8080',
    '127.0.0.1.evil.com',
    'localhost.evil.com',
    '[::1].evil',
    '0x7f.0.0.1:8080',
    'localhost:8080/x',
    '',
  ]) {
    assert.equal(check(policy, { host }).passed, false, host);
  }
  const listed = buildOriginPolicy('0.0.0.0', [], ['mcp.example.com'], []);
  assert.deepEqual(check(listed, { host: '127.0.0.1:9' }), { passed: true }, 'loopback always passes');
  assert.equal(check(listed, { host: '127.attacker.example' }).passed, false);
});
