/**
 * One process of the local mesh (the Consul agent, a sidecar): started in its own process group so that the
 * terminal's Ctrl-C reaches only the launcher, which then stops the processes in the safe order itself. Had they
 * stayed in the terminal's group, Consul would get the same SIGINT as the sidecars and leave before they could
 * deregister. Under util-linux `setpriv --pdeathsig TERM`, each still ends when the launcher dies without
 * stopping it (SIGKILL, a crash): a sidecar then withdraws and stops its server as on any SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class MeshProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  private stdoutText = '';

  constructor(
    /** What the launcher calls it in its messages ("Consul agent", "sidecar everything"). */
    readonly label: string,
    command: string,
    args: string[],
    /** stderr (and stdout) also go to this file: the process's log, kept for the operator. */
    readonly logFile: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const [file, argv] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'TERM', '--', command, ...args]]
      : [command, args];
    this.proc = spawn(file, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    const log = createWriteStream(logFile, { flags: 'a' });
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutText = (this.stdoutText + chunk).slice(-100_000);
      log.write(chunk);
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        // Let the pipes drain into the log before it is closed.
        setImmediate(() => log.end());
        resolve({ code, signal });
      });
      this.proc.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid !== undefined;
  }

  /** What the process printed on stdout (the sidecar prints where it listens there). */
  stdout(): string {
    return this.stdoutText;
  }

  /** SIGTERM, then SIGKILL of its whole group after `graceMs`; resolves with how it ended. */
  async stop(graceMs: number): Promise<Exit & { killed: boolean }> {
    if (!this.running()) return { ...(await this.exited), killed: false };
    this.proc.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-this.proc.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, killed };
  }
}

/** How a process ended, in words for the operator. */
export function describeExit(exit: Exit): string {
  return exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
}
