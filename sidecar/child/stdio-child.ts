/**
 * One MCP server process: spawned from an argv array (never a shell) in its own process group, stdout framed
 * as newline-delimited JSON, stderr forwarded line by line to the log. Knows nothing of MCP beyond framing.
 * With an orphan guard, the process group does not outlive the sidecar (see orphan-guard.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { LineFramer, type FramerSink } from './line-framer.js';
import type { OrphanGuard } from './orphan-guard.js';

export interface ChildSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Longest stdout line accepted, in bytes. */
  maxMessageBytes: number;
  /** Ends the group when the sidecar dies without stopping it; absent, only a graceful stop ends the group. */
  guard?: OrphanGuard;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Human sentence: why the process is gone. */
  reason: string;
}

/** What a child's stdout yields: exactly what its line framer finds. */
export type ChildEvents = FramerSink;

export interface StopTimings {
  /** After closing stdin, how long the server gets to exit on its own. */
  stdinGraceMs: number;
  /** After SIGTERM to the group, how long before SIGKILL. */
  termGraceMs: number;
}

/** What a worker needs of the process it speaks to: StdioChild, or an in-memory server in unit tests. */
export interface ServerProcess {
  readonly pid: number | undefined;
  /** Settles once, when the process is gone (or never started). */
  readonly exited: Promise<ExitInfo>;
  readonly running: boolean;
  /** Writes one serialized message; false when the process is gone. */
  send(serialized: string): boolean;
  stop(timings: StopTimings): Promise<ExitInfo>;
  kill(): void;
}

export class StdioChild implements ServerProcess {
  readonly pid: number | undefined;
  /** Settles once, when the process is gone (or never started). */
  readonly exited: Promise<ExitInfo>;
  private readonly proc: ChildProcess;
  private exitInfo: ExitInfo | undefined;
  private stopping = false;
  /** Messages waiting for this event-loop turn's single write to stdin (see send). */
  private outbox: string[] = [];

  constructor(
    readonly spec: ChildSpec,
    events: ChildEvents,
    private readonly log: Logger,
  ) {
    let settle!: (info: ExitInfo) => void;
    this.exited = new Promise((resolve) => (settle = resolve));

    const { command, args } = spec.guard?.wrap(spec) ?? spec;
    this.proc = spawn(command, args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: we can signal the server and everything it spawned at once, and a Ctrl-C in the
      // sidecar's terminal does not reach the server before we have withdrawn from the registries.
      detached: true,
      windowsHide: true,
    });
    this.pid = this.proc.pid;
    if (this.pid !== undefined) spec.guard?.track(this.pid, spec);

    const framer = new LineFramer(spec.maxMessageBytes, events);
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => framer.push(chunk));
    this.forwardStderr();
    // Writing to a server that just died raises EPIPE on stdin; the exit handler reports the death.
    this.proc.stdin!.on('error', (err) => this.log.debug({ err: err.message }, 'stdin closed under us'));

    const finish = (info: ExitInfo) => {
      if (this.exitInfo) return;
      this.exitInfo = info;
      this.killGroup('SIGKILL'); // no orphans: whatever the server left running in its group goes with it
      if (this.pid !== undefined) spec.guard?.untrack(this.pid);
      settle(info);
    };
    this.proc.on('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'ENOENT'
          ? `command not found: "${spec.command}". Check the command after "--" and the PATH`
          : err.code === 'EACCES'
            ? `permission denied running "${spec.command}". Is it executable?`
            : err.message;
      finish({ code: null, signal: null, reason: `could not start the MCP server: ${hint}` });
    });
    this.proc.on('exit', (code, signal) => {
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const why = this.stopping ? 'stopped by the sidecar' : 'unexpectedly';
      finish({ code, signal, reason: `MCP server process ${how} (${why})` });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.pid !== undefined;
  }

  /** Writes one message; returns false when the process is gone. */
  send(serialized: string): boolean {
    if (!this.running || !this.proc.stdin!.writable) return false;
    // Messages queued in one turn of the event loop (many HTTP requests parsed together under load) go out in
    // one pipe write: a syscall per message was a measurable share of the sidecar's cost per call.
    if (this.outbox.length === 0) setImmediate(this.flush);
    this.outbox.push(serialized);
    return true;
  }

  private readonly flush = (): void => {
    if (this.outbox.length === 0) return;
    // A last empty item gives the final newline: join makes one flat string, where a `+ '\n'` after it made a
    // rope that the write had to flatten into yet another copy. (Measured: a rope built message by message
    // instead of the array made the sidecar's CPU per call ~10% worse; writes want flat strings.)
    this.outbox.push('');
    const text = this.outbox.join('\n');
    this.outbox = [];
    if (this.proc.stdin!.writable) this.proc.stdin!.write(text);
  };

  /** Graceful stop, MCP style: close stdin, wait, SIGTERM the group, wait, SIGKILL the group. */
  async stop(timings: StopTimings): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.stopping = true;
    this.flush();
    this.proc.stdin!.end();
    if (await this.exitsWithin(timings.stdinGraceMs)) return this.exitInfo!;
    this.killGroup('SIGTERM');
    if (await this.exitsWithin(timings.termGraceMs)) return this.exitInfo!;
    this.log.warn(
      { pid: this.pid },
      'MCP server ignored stdin close and SIGTERM; sending SIGKILL to its process group',
    );
    this.killGroup('SIGKILL');
    return this.exited;
  }

  /** Immediate kill of the whole group (a hung server gets no grace). */
  kill(): void {
    this.stopping = true;
    this.killGroup('SIGKILL');
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already empty, which is what we want.
    }
  }

  private forwardStderr(): void {
    let partial = '';
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      // A server that writes megabytes to stderr without a newline must not grow our memory: log it in pieces.
      if (partial.length > 65_536) {
        lines.push(partial);
        partial = '';
      }
      for (const line of lines) if (line.trim()) this.log.info({ stream: 'stderr' }, line.slice(0, 8192));
    });
    this.proc.stderr!.on('end', () => {
      if (partial.trim()) this.log.info({ stream: 'stderr' }, partial.slice(0, 8192));
    });
  }
}
