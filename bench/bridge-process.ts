/**
 * A process the benchmark starts (a bridge, or the bare MCP server): spawned with an argv array, its output
 * kept in a bounded tail for failure reasons, and stopped with its whole tree so nothing outlives the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { isRunning, processTree } from './process-stats.js';

export class BridgeProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stdoutTail = '';
  private stderrTail = '';

  constructor(command: string, args: string[], opts: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {}) {
    this.proc = spawn(command, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    // an ENOENT arrives as 'error' (and no 'exit'): treat it as an exit so waiters never hang
    this.proc.once('error', (err) => {
      this.stderrTail += `\n${err.message}`;
      this.proc.emit('exit', null, null);
    });
    this.pid = this.proc.pid ?? -1;
    if (opts.stdin !== 'pipe')
      this.proc
        .stdout!.setEncoding('utf8')
        .on('data', (c: string) => (this.stdoutTail = (this.stdoutTail + c).slice(-8000)));
    this.proc
      .stderr!.setEncoding('utf8')
      .on('data', (c: string) => (this.stderrTail = (this.stderrTail + c).slice(-8000)));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first match of `pattern` on stdout. */
  waitForStdout(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stdoutTail);
        if (match) {
          cleanup();
          resolve(match);
        }
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`exited before printing ${pattern}: ${this.describeExit()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`printed nothing matching ${pattern} within ${timeoutMs} ms; ${this.outputTail()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.proc.stdout!.off('data', check);
        this.proc.off('exit', onExit);
      };
      this.proc.stdout!.on('data', check);
      this.proc.once('exit', onExit);
      check();
    });
  }

  /** Polls `probe` until it returns true; fails at once if the process exits. */
  async waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`exited before ${what}: ${this.describeExit()}`);
      try {
        if (await probe()) return;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `not ${what} within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}; ${this.outputTail()}`,
    );
  }

  describeExit(): string {
    return `code ${this.proc.exitCode}, signal ${this.proc.signalCode}; ${this.outputTail()}`;
  }

  outputTail(): string {
    const err = this.stderrTail.trim().split('\n').slice(-5).join(' | ');
    const out = this.stdoutTail.trim().split('\n').slice(-3).join(' | ');
    return `stderr: ${err || '(empty)'}${out ? `; stdout: ${out}` : ''}`;
  }

  /**
   * SIGTERM to the root (bridges stop their own children on it), then SIGKILL to whatever of the tree is still
   * there after the grace period. Returns the pids that had to be killed, so the report can say so.
   */
  async stop(graceMs = 5000): Promise<number[]> {
    const tree = this.pid > 0 ? processTree(this.pid) : [];
    if (this.running) this.proc.kill('SIGTERM');
    const deadline = Date.now() + graceMs;
    const alive = () => tree.filter(isRunning);
    while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const leftovers = alive();
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone in the meantime
      }
    }
    return leftovers;
  }
}

/** A port that was free a moment ago, for bridges that cannot be told to pick one (`--port 0`) and report it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
