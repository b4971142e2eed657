/**
 * Protocol fidelity, judged by a suite nobody here wrote: the official MCP conformance suite's active server
 * scenarios, run against the sidecar in front of the STDIO conformance fixture, in both session modes and for
 * both spec versions. Every scenario must pass, except those listed in test/conformance-baseline.json with a
 * reason; a listed scenario that passes is a stale entry and fails too.
 *
 * Then the comparison with a native Streamable HTTP server: the suite against server-everything's own HTTP
 * mode, and against the sidecar in front of its stdio mode. The sidecar must pass every scenario the native
 * transport passes (and so at least as many).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  conformanceVersion,
  describeProblems,
  requirementsVerdict,
  runConformance,
  type ConformanceRun,
} from '../support/conformance-cli.js';
import { launch } from '../support/harness.js';
import {
  descendants,
  distRoot,
  everythingCommand,
  fixtureCommand,
  isRunning,
  readyz,
  waitFor,
} from '../support/sidecar-process.js';

const MODES = {
  shared: [] as string[],
  isolated: ['--session-mode', 'isolated', '--warm', '2'],
};
type Mode = keyof typeof MODES;
const SPEC_VERSIONS = ['2025-11-25', '2025-06-18'];

interface BaselineEntry {
  scenario: string;
  modes: Mode[];
  specVersions: string[];
  reason: string;
}
const baselinePath = join(distRoot, '..', 'test', 'conformance-baseline.json');
const baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as { suite: string; expectedFailures: BaselineEntry[] };

function summary(run: ConformanceRun): string {
  const passed = run.scenarios.filter((s) => s.passed).length;
  return `${passed}/${run.scenarios.length} scenarios passed; checks: ${run.passedChecks} passed, ${run.failedChecks} failed, ${run.warnings} warnings`;
}

test('the baseline file belongs to the installed suite and every entry says why', () => {
  assert.equal(
    baseline.suite,
    `@modelcontextprotocol/conformance@${conformanceVersion}`,
    'the baseline was written for another suite version: re-run and re-judge it',
  );
  for (const entry of baseline.expectedFailures) {
    assert.ok(
      entry.reason && entry.reason.trim().length > 20,
      `baseline entry ${entry.scenario} needs a reason (a fact about the suite)`,
    );
    assert.ok(
      entry.modes.every((m) => m in MODES),
      `baseline entry ${entry.scenario}: unknown mode in ${JSON.stringify(entry.modes)}`,
    );
    assert.ok(
      entry.specVersions.every((v) => SPEC_VERSIONS.includes(v)),
      `baseline entry ${entry.scenario}: unknown spec version`,
    );
  }
});

for (const mode of Object.keys(MODES) as Mode[]) {
  for (const specVersion of SPEC_VERSIONS) {
    test(
      `conformance ${specVersion}: every active server scenario passes through the sidecar in ${mode} mode`,
      { timeout: 240_000 },
      async (t) => {
        const sidecar = await launch(t, [...MODES[mode], '--', ...fixtureCommand('conformance-server')]);
        const before = await readyz(sidecar.url);

        const run = await runConformance(`${sidecar.url}/mcp`, { specVersion });
        t.diagnostic(`${mode} ${specVersion}: ${summary(run)}`);

        const announced = /Running active suite \((\d+) scenarios\)/.exec(run.output);
        assert.ok(announced, `the CLI did not announce its suite:\n${run.output.slice(-2000)}`);
        assert.equal(run.scenarios.length, Number(announced[1]), 'every announced scenario ran');
        if (specVersion === '2025-11-25') {
          assert.ok(
            run.scenarios.some((s) => s.scenario === 'dns-rebinding-protection'),
            'the 2025-11-25 suite includes dns-rebinding-protection',
          );
        }

        const allowed = new Map(
          baseline.expectedFailures
            .filter((e) => e.modes.includes(mode) && e.specVersions.includes(specVersion))
            .map((e) => [e.scenario, e.reason]),
        );
        const unexpected = run.scenarios.filter((s) => !s.passed && !allowed.has(s.scenario));
        assert.deepEqual(
          unexpected.map((s) => s.scenario),
          [],
          `scenarios failed through the sidecar (${mode}, ${specVersion}):\n${describeProblems(unexpected)}\nsidecar log (tail):\n${sidecar.logs().slice(-3000)}`,
        );
        const stale = [...allowed.keys()].filter((name) => run.scenarios.find((s) => s.scenario === name)?.passed);
        assert.deepEqual(
          stale,
          [],
          `baseline entries whose scenarios now pass (${mode}, ${specVersion}): remove them from ${baselinePath}`,
        );
        for (const s of run.scenarios.filter((s) => !s.passed))
          t.diagnostic(`expected failure ${s.scenario}: ${allowed.get(s.scenario)}`);

        // The suite ran against a live bridge, not a restarting one: the shared child survived every scenario.
        const after = await readyz(sidecar.url);
        assert.equal(after.status, 200, `the sidecar is not ready after the suite: ${JSON.stringify(after.body)}`);
        if (mode === 'shared')
          assert.equal(
            after.body.worker?.pid,
            before.body.worker?.pid,
            'the MCP server was restarted during the suite',
          );

        // The suite's SDK clients close without DELETE, so isolated mode still holds their children here (until
        // --session-idle): all of them must go with the sidecar.
        const children = descendants(sidecar.pid);
        t.diagnostic(`${mode} ${specVersion}: ${children.length} processes under the sidecar at the end of the suite`);
        await sidecar.stop();
        await waitFor(
          () => children.every((pid) => !isRunning(pid)),
          5_000,
          `the sidecar's children ${children.join(', ')} to exit with it`,
        );
      },
    );
  }
}

/**
 * Revision 2026-07-28, exactly the server scenarios it requires (`--requirements`, frozen at its release), through
 * the sidecar in front of the same legacy stdio fixture: the stateless front must pass them all, the
 * input-required-result-* ones included (the fixture asks with server→client requests; the sidecar bridges them
 * as Multi Round-Trip Requests). Only the scenarios the CLI itself lists as "not scored for 2026-07-28"
 * (extensions and pending ones) are not judged.
 */
const MRTR = /^input-required-result-/;
for (const mode of Object.keys(MODES) as Mode[]) {
  test(
    `conformance --requirements 2026-07-28: every required server scenario passes in ${mode} mode, input-required (MRTR) included`,
    { timeout: 240_000 },
    async (t) => {
      const sidecar = await launch(t, [...MODES[mode], '--', ...fixtureCommand('conformance-server')]);
      const run = await runConformance(`${sidecar.url}/mcp`, { requirements: '2026-07-28' });
      t.diagnostic(`${mode} 2026-07-28: ${summary(run)}`);
      const { announced, judged, failed } = requirementsVerdict(run, '2026-07-28');
      assert.ok(announced, `the CLI did not announce the requirement set:\n${run.output.slice(-2000)}`);
      assert.equal(run.scenarios.length, announced, 'every announced scenario ran');
      assert.ok(
        judged.length >= 30,
        `only ${judged.length} scenarios judged: ${judged.map((s) => s.scenario).join(', ')}`,
      );
      for (const required of [
        'server-stateless',
        'input-required-result-multi-round',
        'input-required-result-tampered-state',
      ])
        assert.ok(
          judged.some((s) => s.scenario === required),
          `${required} is among the judged scenarios`,
        );
      const mrtr = judged.filter((s) => MRTR.test(s.scenario));
      assert.ok(mrtr.length >= 14, `only ${mrtr.length} input-required scenarios ran`);
      assert.deepEqual(
        failed.map((s) => s.scenario),
        [],
        `2026-07-28 scenarios failed through the sidecar (${mode}):\n${describeProblems(failed)}\nsidecar log (tail):\n${sidecar.logs().slice(-3000)}`,
      );
      t.diagnostic(
        `${mode} 2026-07-28: ${judged.length} judged scenarios passed, ${mrtr.length} of them input-required`,
      );
    },
  );
}

/** server-everything's own Streamable HTTP mode on a free loopback port (the preload binds and reports it). */
async function everythingOverHttp(t: TestContext): Promise<string> {
  const preload = pathToFileURL(join(distRoot, 'test', 'fixtures', 'loopback-only.js')).href;
  const proc = spawn(process.execPath, ['--import', preload, everythingCommand()[1], 'streamableHttp'], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  return waitFor(
    () => /loopback-only: listening at (http:\/\/\S+)/.exec(stderr)?.[1],
    15_000,
    `server-everything to listen (stderr: ${stderr.slice(-500)})`,
  );
}

test(
  'server-everything: the sidecar in front of its stdio mode passes every scenario its own Streamable HTTP mode passes',
  { timeout: 240_000 },
  async (t) => {
    const direct = await runConformance(`${await everythingOverHttp(t)}/mcp`);
    t.diagnostic(`direct (server-everything streamableHttp): ${summary(direct)}`);
    const directPasses = direct.scenarios.filter((s) => s.passed).map((s) => s.scenario);
    assert.ok(
      directPasses.length > 0,
      `the direct run passed nothing, so the comparison would prove nothing:\n${direct.output.slice(-2000)}`,
    );

    for (const mode of Object.keys(MODES) as Mode[]) {
      const sidecar = await launch(t, [...MODES[mode], '--', ...everythingCommand()]);
      const bridged = await runConformance(`${sidecar.url}/mcp`);
      t.diagnostic(`through the sidecar (${mode}, server-everything stdio): ${summary(bridged)}`);
      const bridgedPasses = new Set(bridged.scenarios.filter((s) => s.passed).map((s) => s.scenario));
      const lost = bridged.scenarios.filter((s) => directPasses.includes(s.scenario) && !bridgedPasses.has(s.scenario));
      assert.deepEqual(
        lost.map((s) => s.scenario),
        [],
        `scenarios that pass natively but not through the sidecar (${mode}):\n${describeProblems(lost)}`,
      );
      assert.ok(
        bridgedPasses.size >= directPasses.length,
        `${mode}: ${bridgedPasses.size} scenarios through the sidecar < ${directPasses.length} direct`,
      );
      assert.ok(
        bridged.passedChecks >= direct.passedChecks,
        `${mode}: ${bridged.passedChecks} checks through the sidecar < ${direct.passedChecks} direct`,
      );
      const gained = [...bridgedPasses].filter((s) => !directPasses.includes(s));
      if (gained.length > 0) t.diagnostic(`${mode}: passes through the sidecar only: ${gained.join(', ')}`);
      await sidecar.stop();
    }
  },
);
