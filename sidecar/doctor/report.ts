/**
 * The doctor's checks and how they are reported: each runs in order and passes (✔ with what it found), fails (✘
 * with why and the fix), or is skipped (- with the failed check it needed). The runner owns the order and the
 * skipping; the checks know only their own subject.
 */

/** A failed check: what went wrong, and what the operator should do about it. */
export class CheckFailure extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export interface Check {
  /** Short name, also what later checks name in `needs`. */
  id: string;
  title: string;
  /** Checks that must have passed for this one to mean anything. */
  needs?: string[];
  /** Resolves with what was found; throws a CheckFailure (anything else is reported as a failure too). */
  run(): Promise<string>;
}

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✘', skip: '-' };

/** Runs the checks in order; `print` gets each line as soon as its check is done. */
export async function runChecks(checks: Check[], print: (line: string) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const failedNeed = (check.needs ?? [])
      .map((id) => results.find((r) => r.id === id))
      .find((r) => r !== undefined && r.status !== 'pass');
    let result: CheckResult;
    if (failedNeed) {
      const why = failedNeed.status === 'fail' ? 'failed' : 'was skipped';
      result = { id: check.id, title: check.title, status: 'skip', detail: `skipped: "${failedNeed.title}" ${why}` };
    } else {
      try {
        result = { id: check.id, title: check.title, status: 'pass', detail: await check.run() };
      } catch (err) {
        const fix = err instanceof CheckFailure ? err.fix : 'this is a bug in mcp-sidecar doctor; please report it';
        result = { id: check.id, title: check.title, status: 'fail', detail: (err as Error).message, fix };
      }
    }
    results.push(result);
    print(formatResult(result));
  }
  return results;
}

export function formatResult(result: CheckResult): string {
  const line = `${MARK[result.status]} ${result.title}: ${result.detail}`;
  return result.fix ? `${line}\n    fix: ${result.fix}` : line;
}
