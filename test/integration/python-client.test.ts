/**
 * The official MCP Python SDK (`mcp` 2.3.0 from PyPI, test/python/requirements.txt) through the sidecar in front
 * of server-everything over stdio: a client of another language and another implementation than the TypeScript
 * ones the other tests use. In each of its three modes (`auto`, pinned to 2026-07-28, `legacy`) it lists, calls,
 * reads, answers the server's elicitation and sampling (as MRTR rounds in the modern modes, as server requests in
 * legacy), follows progress, and in the modern modes listens for resource updates. Then a pinned client spread
 * over two replicas by a round-robin gateway, as Kong sends requests that carry no session.
 *
 * test/python/install.sh makes the SDK's virtual environment (npm test's set-up runs it first); on a machine
 * without Python 3.10 or newer these tests skip and say so.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { launch } from '../support/harness.js';
import { roundRobinProxy } from '../support/round-robin-proxy.js';
import { distRoot, everythingCommand } from '../support/sidecar-process.js';

const pythonDir = join(distRoot, '..', 'test', 'python');

/** The venv's interpreter, or why there is none (install.sh exits 3 when this machine has no Python ≥ 3.10). */
function findPython(): { python?: string; skip?: string } {
  try {
    const out = execFileSync('bash', [join(pythonDir, 'install.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10 * 60_000,
    });
    return { python: out.trim().split('\n').pop() };
  } catch (err) {
    const { status, stderr } = err as { status?: number; stderr?: string };
    if (status === 3) return { skip: String(stderr).trim() };
    throw new Error(`test/python/install.sh failed (status ${status}):\n${String(stderr).slice(-3000)}`, {
      cause: err,
    });
  }
}

const { python, skip } = findPython();

type Report = Record<string, any>;

/** Runs test/python/sdk_client.py and returns its report; a step's error is shown whole when an assertion fails. */
function drive(url: string, mode: string, calls = 1, steps?: string[]): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      python!,
      [join(pythonDir, 'sdk_client.py'), url, mode, String(calls), ...(steps ? [steps.join(',')] : [])],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(new Error(`sdk_client.py ${mode}: ${err?.message ?? 'no report'}\n${stdout}\n${stderr.slice(-3000)}`));
        }
      },
    );
  });
}

/** The step's value; a step that raised fails here with the Python error and its traceback. */
function stepOf(report: Report, name: string): any {
  assert.equal(report.failed, undefined, `the ${report.mode} client failed: ${report.failed}\n${report.trace}`);
  const value = report[name];
  assert.ok(value !== undefined, `step ${name} did not run (${report.mode})`);
  assert.equal(value?.error, undefined, `step ${name} (${report.mode}): ${value?.error}\n${value?.trace}`);
  return value;
}

function checkEveryStep(report: Report, mode: string): void {
  assert.deepEqual(stepOf(report, 'echo'), ['Echo: python 0', 'Echo: python 1']);
  assert.ok(stepOf(report, 'tools').includes('trigger-elicitation-request'), 'tools listed');
  // An unknown tool is the server's own answer, whichever era the client speaks.
  assert.equal(stepOf(report, 'unknown').isError, true);
  assert.match(stepOf(report, 'unknown').text[0], /no-such-tool not found/);
  assert.equal(stepOf(report, 'read').listed > 0, true);
  assert.match(stepOf(report, 'read').uri, /^demo:\/\//);
  // The server's elicitation and sampling reached the Python callbacks and their answers reached the server.
  assert.match(stepOf(report, 'elicitation').join('\n'), /Name: Ada/);
  assert.match(stepOf(report, 'sampling').join('\n'), /sampled by python/);
  assert.deepEqual(report.asked, ['elicitation', 'sampling'], `${mode}: each asked once`);
  const progress = stepOf(report, 'progress');
  assert.deepEqual(progress.progress, [
    [1, 3],
    [2, 3],
    [3, 3],
  ]);
  assert.match(progress.text[0], /Long running operation completed/);
}

describe('the official MCP Python SDK client', { skip, timeout: 240_000 }, () => {
  test('auto, pinned to 2026-07-28 and legacy: every step through one sidecar', async (t: TestContext) => {
    const sidecar = await launch(t, ['--', ...everythingCommand()]);
    const url = `${sidecar.url}/mcp`;
    // One after another: each client starts a Python interpreter, and two cores run the server too.
    const auto = await drive(url, 'auto', 2);
    const pinned = await drive(url, '2026-07-28', 2);
    const legacy = await drive(url, 'legacy', 2);

    assert.equal(auto.negotiated, '2026-07-28', 'auto mode found the modern revision by server/discover');
    assert.equal(auto.server, 'mcp-servers/everything', 'discover carries the server identity');
    assert.equal(pinned.negotiated, '2026-07-28');
    assert.equal(legacy.negotiated, '2025-11-25');
    for (const [mode, report] of [
      ['auto', auto],
      ['2026-07-28', pinned],
      ['legacy', legacy],
    ] as const)
      checkEveryStep(report, mode);
    for (const report of [auto, pinned]) {
      const listen = stepOf(report, 'listen');
      assert.deepEqual(listen.honored, ['demo://resource/dynamic/text/1'], 'the legacy server took the subscription');
      assert.equal(listen.event, 'ResourceUpdated');
      assert.equal(listen.uri, 'demo://resource/dynamic/text/1');
    }
    assert.equal(legacy.listen, undefined, 'a legacy session has no listen');
  });

  test('pinned to 2026-07-28 over two replicas behind a round-robin gateway: no affinity needed', async (t) => {
    const [a, b] = await Promise.all([
      launch(t, ['--', ...everythingCommand()]),
      launch(t, ['--', ...everythingCommand()]),
    ]);
    const gateway = await roundRobinProxy(t, [a.url, b.url]);
    const report = await drive(`${gateway.url}/mcp`, '2026-07-28', 4, ['tools', 'echo']);
    assert.deepEqual(stepOf(report, 'echo'), ['Echo: python 0', 'Echo: python 1', 'Echo: python 2', 'Echo: python 3']);
    const calls = gateway.routed.filter((r) => r.method === 'tools/call');
    assert.ok(
      calls.some((r) => r.target === a.url) && calls.some((r) => r.target === b.url),
      `calls reached both replicas: ${JSON.stringify(calls)}`,
    );
  });
});
