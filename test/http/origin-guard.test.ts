/** DNS-rebinding and cross-site protection: which Host and Origin headers reach /mcp and /tools. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NextFunction, Request, Response } from 'express';
import { buildOriginPolicy, hostnameOf, isLoopback, originGuard, type OriginPolicy } from '../../sidecar/http/origin-guard.js';

/** Runs the guard on a request with these headers: 'next' when it passes, else the status and message. */
function check(policy: OriginPolicy, headers: Record<string, string | undefined>): { passed: true } | { passed: false; status: number; message: string } {
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

test('bound to loopback: only loopback Host names pass (a rebinding attacker\'s name does not)', () => {
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
  assert.deepEqual(check(buildOriginPolicy('127.0.0.1', ['sidecar.internal'], [], []), { host: 'sidecar.internal:8080' }), { passed: true });
  const policy = buildOriginPolicy('0.0.0.0', [], ['mcp.example.com'], []);
  assert.deepEqual(check(policy, { host: 'MCP.example.com' }), { passed: true });
  assert.equal(check(policy, { host: 'other.example.com' }).passed, false);
  const behindKong = buildOriginPolicy('0.0.0.0', ['mcp-everything'], ['everything'], []);
  assert.deepEqual(check(behindKong, { host: 'mcp-everything:8080' }), { passed: true }, "Kong's upstream name passes with --allowed-hosts too");
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
