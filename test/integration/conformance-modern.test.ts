/**
 * The official conformance suite through the sidecar in front of a MODERN-only stdio server (MCP 2026-07-28,
 * `@modelcontextprotocol/server` 2.4.0 with `legacy: 'reject'`: test/fixtures/modern-conformance-server.ts), in
 * both session modes:
 * - `--requirements 2026-07-28`: modern clients pass straight through, the server's own InputRequiredResults
 *   and requestState included (every judged scenario, the input-required-result-* ones among them);
 * - `--spec-version 2025-11-25` (and 2025-06-18): legacy clients are translated (initialize from the discover result, `_meta` on
 *   every request, ping, log levels, subscriptions, and the server's InputRequiredResults resolved by the
 *   sidecar as elicitation and sampling requests on the session).
 * No baseline: every scenario must pass (test/conformance-baseline.json holds none for this fixture).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeProblems, requirementsVerdict, runConformance } from '../support/conformance-cli.js';
import { launch } from '../support/harness.js';
import { fixtureCommand, readyz } from '../support/sidecar-process.js';

const MODES = {
  shared: [] as string[],
  isolated: ['--session-mode', 'isolated', '--warm', '2'],
};
const MRTR = /^input-required-result-/;

for (const [mode, args] of Object.entries(MODES)) {
  test(
    `modern server, ${mode} mode: every judged 2026-07-28 scenario passes (input-required ones included), and every 2025-11-25 and 2025-06-18 scenario through the legacy translation`,
    { timeout: 400_000 },
    async (t) => {
      const sidecar = await launch(t, [...args, '--', ...fixtureCommand('modern-conformance-server')]);
      const ready = await readyz(sidecar.url);
      assert.equal(ready.body.worker?.era, 'modern', `/readyz names the era: ${JSON.stringify(ready.body)}`);
      assert.match(sidecar.logs(), /a modern MCP 2026-07-28 server: server\/discover answered/);

      const modern = await runConformance(`${sidecar.url}/mcp`, { requirements: '2026-07-28' });
      const { announced, judged, failed } = requirementsVerdict(modern, '2026-07-28');
      assert.ok(announced, `the CLI did not announce the requirement set:\n${modern.output.slice(-2000)}`);
      assert.equal(modern.scenarios.length, announced, 'every announced scenario ran');
      const mrtr = judged.filter((s) => MRTR.test(s.scenario));
      assert.ok(judged.length >= 30, `only ${judged.length} scenarios judged`);
      assert.ok(mrtr.length >= 14, `only ${mrtr.length} input-required scenarios ran`);
      assert.deepEqual(
        failed.map((s) => s.scenario),
        [],
        `2026-07-28 scenarios failed (${mode}, modern server):\n${describeProblems(failed)}\nsidecar log (tail):\n${sidecar.logs().slice(-3000)}`,
      );
      const checks = judged.flatMap((s) => s.checks).filter((c) => c.status === 'SUCCESS').length;
      t.diagnostic(
        `${mode} 2026-07-28: ${judged.length}/${judged.length} judged scenarios passed (${mrtr.length} input-required), ${checks} checks passed in them, ${modern.passedChecks} counting the unscored ones`,
      );

      for (const specVersion of ['2025-11-25', '2025-06-18']) {
        const legacy = await runConformance(`${sidecar.url}/mcp`, { specVersion });
        const announcedLegacy = /Running active suite \((\d+) scenarios\)/.exec(legacy.output);
        assert.ok(announcedLegacy, `the CLI did not announce its suite:\n${legacy.output.slice(-2000)}`);
        assert.equal(legacy.scenarios.length, Number(announcedLegacy[1]), 'every announced scenario ran');
        for (const needed of ['tools-call-elicitation', 'tools-call-sampling', 'resources-subscribe', 'ping'])
          assert.ok(
            legacy.scenarios.some((s) => s.scenario === needed),
            `${needed} is among the ${specVersion} scenarios`,
          );
        const legacyFailed = legacy.scenarios.filter((s) => !s.passed);
        assert.deepEqual(
          legacyFailed.map((s) => s.scenario),
          [],
          `${specVersion} scenarios failed (${mode}, modern server):\n${describeProblems(legacyFailed)}\nsidecar log (tail):\n${sidecar.logs().slice(-3000)}`,
        );
        t.diagnostic(
          `${mode} ${specVersion}: ${legacy.scenarios.length}/${legacy.scenarios.length} scenarios passed, ${legacy.passedChecks} checks, ${legacy.failedChecks} failed`,
        );
      }
      const after = await readyz(sidecar.url);
      assert.equal(after.status, 200, `the sidecar is not ready after the suite: ${JSON.stringify(after.body)}`);
      if (mode === 'shared')
        assert.equal(after.body.worker?.pid, ready.body.worker?.pid, 'the server was not restarted');
    },
  );
}
