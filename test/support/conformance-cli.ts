/**
 * Running the official MCP conformance suite (`@modelcontextprotocol/conformance`, a dev dependency) against a
 * URL and reading its verdicts. The suite needs Node >= 22, which it gets from the npm package `node@22`; the
 * sidecar under test keeps running on the Node that runs the tests.
 *
 * One CLI invocation per configuration (it runs the scenarios one after another), with `-o` so each scenario's
 * checks land in `<dir>/server-<scenario>-<timestamp>/checks.json`; the scenario list comes from the CLI's own
 * "Running scenario" lines, so a scenario that left no checks is a failure, not a silent omission.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
export const conformanceCli = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist',
  'index.js',
);
export const conformanceVersion: string = require('@modelcontextprotocol/conformance/package.json').version;
/** The Node 22 binary of the `node` npm package. */
export const node22 = join(dirname(require.resolve('node/package.json')), 'bin', 'node');

export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';

export interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: CheckStatus;
  errorMessage?: string;
  details?: unknown;
}

export interface ScenarioResult {
  scenario: string;
  checks: ConformanceCheck[];
  /** FAILURE checks, and WARNING checks: the suite's own baseline logic counts a warning as not passing. */
  problems: ConformanceCheck[];
  passed: boolean;
}

export interface ConformanceRun {
  scenarios: ScenarioResult[];
  exitCode: number | null;
  /** The CLI's stdout and stderr (for failure messages). */
  output: string;
  passedChecks: number;
  failedChecks: number;
  warnings: number;
}

export interface ConformanceOptions {
  /** `--spec-version`: the scenarios of that version only (omitted: the whole active suite). */
  specVersion?: string;
  /** `--requirements`: exactly the scenarios a revision requires (replaces specVersion and suite). */
  requirements?: string;
  /** `--suite`: active (default), all or pending. */
  suite?: 'active' | 'all' | 'pending';
  /** The CLI is killed after this long (default 180 s) and the run fails with what it printed. */
  timeoutMs?: number;
}

/** Runs `conformance server --url <mcpUrl>` over the active suite and returns every scenario's verdict. */
export async function runConformance(mcpUrl: string, opts: ConformanceOptions = {}): Promise<ConformanceRun> {
  const outDir = await mkdtemp(join(tmpdir(), 'mcp-sidecar-conformance-'));
  try {
    const args = [conformanceCli, 'server', '--url', mcpUrl, '-o', outDir];
    if (opts.requirements) args.push('--requirements', opts.requirements);
    if (opts.specVersion) args.push('--spec-version', opts.specVersion);
    if (opts.suite) args.push('--suite', opts.suite);
    const { exitCode, output } = await runCli(args, opts.timeoutMs ?? 180_000);
    const ran = [...output.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
    if (ran.length === 0)
      throw new Error(`the conformance CLI ran no scenario (exit ${exitCode}):\n${output.slice(-3000)}`);
    const checksByScenario = await readChecks(outDir);
    const scenarios = ran.map((scenario): ScenarioResult => {
      const checks = checksByScenario.get(scenario) ?? [
        {
          id: scenario,
          name: scenario,
          description: 'the scenario left no checks.json',
          status: 'FAILURE' as const,
          errorMessage: 'no results written (the CLI crashed or was killed during this scenario)',
        },
      ];
      const problems = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
      return { scenario, checks, problems, passed: problems.length === 0 };
    });
    const all = scenarios.flatMap((s) => s.checks);
    return {
      scenarios,
      exitCode,
      output,
      passedChecks: all.filter((c) => c.status === 'SUCCESS').length,
      failedChecks: all.filter((c) => c.status === 'FAILURE').length,
      warnings: all.filter((c) => c.status === 'WARNING').length,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function runCli(args: string[], timeoutMs: number): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(node22, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 4_000_000) output = output.slice(-2_000_000);
    };
    proc.stdout.on('data', collect);
    proc.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut)
        reject(new Error(`the conformance CLI did not finish within ${timeoutMs} ms:\n${output.slice(-3000)}`));
      else resolve({ exitCode: code, output });
    });
  });
}

/** scenario name → its checks, from `<dir>/server-<scenario>-<ISO timestamp with dashes>/checks.json`. */
async function readChecks(outDir: string): Promise<Map<string, ConformanceCheck[]>> {
  const found = new Map<string, ConformanceCheck[]>();
  for (const entry of await readdir(outDir)) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    if (!match) continue;
    try {
      found.set(match[1], JSON.parse(await readFile(join(outDir, entry, 'checks.json'), 'utf8')) as ConformanceCheck[]);
    } catch {
      // no checks.json: the scenario counts as failed by the caller
    }
  }
  return found;
}

/** One line per scenario that did not pass, with each failing or warning check and its message. */
export function describeProblems(scenarios: ScenarioResult[]): string {
  return scenarios
    .filter((s) => !s.passed)
    .map(
      (s) =>
        `${s.scenario}:\n${s.problems.map((c) => `    ${c.status} ${c.name}: ${c.errorMessage ?? c.description}`).join('\n')}`,
    )
    .join('\n');
}

/**
 * A `--requirements` run, sorted: how many scenarios the CLI announced, and the judged ones (all but those the CLI
 * itself lists as not scored for the revision: extensions and pending scenarios).
 */
export function requirementsVerdict(
  run: ConformanceRun,
  revision: string,
): { announced: number | undefined; judged: ScenarioResult[]; failed: ScenarioResult[] } {
  const escaped = revision.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const announced = new RegExp(`Running requirements ${escaped} \\((\\d+) scenarios\\)`).exec(run.output);
  const notScored = new Set([...run.output.matchAll(/^\s+[✓✗] (\S+) \((?:extension|pending)\)$/gm)].map((m) => m[1]));
  const judged = run.scenarios.filter((s) => !notScored.has(s.scenario));
  return {
    announced: announced ? Number(announced[1]) : undefined,
    judged,
    failed: judged.filter((s) => !s.passed),
  };
}
