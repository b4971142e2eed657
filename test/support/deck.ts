/**
 * decK in tests: the binary (built from the Go module proxy by kong/install-deck.sh, or $DECK_BIN) and the two
 * commands the tests run, `deck file validate` and `deck file openapi2kong`, on text written to a temp file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { distRoot } from './sidecar-process.js';

const run = promisify(execFile);
const repoRoot = join(distRoot, '..');

/** The decK binary: built (or found cached) by kong/install-deck.sh, whose last stdout line is its path. */
export async function deckBinary(): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(repoRoot, 'kong', 'install-deck.sh')], {
      timeout: 900_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const path = stdout.trim().split('\n').at(-1);
    if (!path) throw new Error('install-deck.sh printed no path');
    return path;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(
      `decK is needed to check the export and could not be built: ${e.message}\n${(e.stderr ?? '').slice(-2000)}\nRun "bash kong/install-deck.sh" to see why (it needs Go and the Go module proxy), or set DECK_BIN to a deck v1.55.0 binary.`,
      { cause: err },
    );
  }
}

export interface DeckResult {
  code: number;
  /** stdout and stderr together (decK reports problems on either). */
  output: string;
  /** stdout alone: what a command that prints a file printed. */
  stdout: string;
}

/** Runs `deck file <args...> <file>` on `text` written to a temp file (named `name`). */
export async function deckFile(
  deck: string,
  args: string[],
  text: string,
  opts: { env?: Record<string, string>; name?: string } = {},
): Promise<DeckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'deck-'));
  try {
    const file = join(dir, opts.name ?? 'kong.yaml');
    writeFileSync(file, text);
    try {
      const { stdout, stderr } = await run(deck, ['file', ...args, file], {
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, DECK_ANALYTICS: 'off', ...opts.env },
      });
      return { code: 0, output: stdout + stderr, stdout };
    } catch (err) {
      const e = err as Error & { code?: number; stdout?: string; stderr?: string };
      const stdout = e.stdout ?? '';
      return { code: typeof e.code === 'number' ? e.code : 1, output: `${stdout}${e.stderr ?? e.message}`, stdout };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `deck file validate` on a decK state file. */
export function deckValidate(deck: string, yamlText: string, env: Record<string, string> = {}): Promise<DeckResult> {
  return deckFile(deck, ['validate', '--analytics=false'], yamlText, { env });
}
