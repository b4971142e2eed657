/**
 * One small `sh` per sidecar that ends the servers' process groups when the sidecar dies, however it dies.
 *
 * The sidecar tells it each group that starts and ends over a pipe. The pipe is the trigger: when the sidecar
 * exits, even by SIGKILL, the kernel closes the pipe's write end, the watcher reads EOF and sends SIGKILL to every
 * group still on its list — the server and whatever it spawned in its group (setpriv's parent-death signal only
 * reaches the direct child). One shell for all groups, not one per group: isolated mode runs a server per session,
 * and a second process per server would double the process count. A shell rather than a second Node: ~1 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';

// Lines: "add <pgid>" / "del <pgid>". The list is a space-delimited string (dash has no arrays); removal cuts the
// " <pgid> " word out with POSIX prefix/suffix expansions, so no command runs per line.
const SCRIPT = `trap '' INT HUP
groups=' '
while read -r op pgid; do
  case $op in
    add) groups="$groups$pgid " ;;
    del) case $groups in *" $pgid "*) groups="\${groups%% $pgid *} \${groups#* $pgid }" ;; esac ;;
  esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done`;

/** A watcher that dies sooner than this after its start is not started again (something kills it on sight). */
const MIN_LIFE_MS = 1000;

export class GroupWatcher {
  private proc: ChildProcess | undefined;
  private readonly groups = new Set<number>();
  private closing = false;

  constructor(private readonly log: Logger) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    const startedAt = Date.now();
    // Its own process group, so a signal to the sidecar's group (Ctrl-C, kill -- -pgid) does not end the watcher
    // along with the sidecar before it has done its job.
    const proc = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.proc = proc;
    proc.stdin!.on('error', () => undefined); // EPIPE after the watcher died: the exit handler reports it
    proc.on('error', (err) =>
      this.log.warn(
        { err: err.message },
        'cannot start the process-group watcher (/bin/sh): if the sidecar is killed, processes the MCP server spawned may outlive it',
      ),
    );
    proc.on('exit', (code, signal) => {
      if (this.closing || this.proc !== proc) return;
      this.proc = undefined;
      if (Date.now() - startedAt < MIN_LIFE_MS) {
        this.log.warn(
          { code, signal },
          'the process-group watcher ended right after its start; not restarting it: if the sidecar is killed, processes the MCP server spawned may outlive it',
        );
        return;
      }
      this.start();
      this.log.warn(
        { code, signal, watcherPid: this.pid },
        'the process-group watcher ended unexpectedly; started another',
      );
    });
    // The watcher never keeps the sidecar alive: it exists to outlive it by a moment.
    proc.unref();
    (proc.stdin as unknown as { unref?: () => void }).unref?.();
    for (const pgid of this.groups) this.write(`add ${pgid}`);
  }

  add(pgid: number): void {
    this.groups.add(pgid);
    this.write(`add ${pgid}`);
  }

  /** The group is gone (its leader exited and the group was SIGKILLed): never signal that number again. */
  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.write(`del ${pgid}`);
  }

  /**
   * Graceful end: the watcher reads EOF and exits (after ending any group still listed, which should be none).
   * Resolves once it has exited (at most a second), so a sidecar that stops cleanly leaves no process behind.
   */
  close(): Promise<void> {
    this.closing = true;
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    proc.stdin!.end();
    return exited;
  }

  private write(line: string): void {
    if (this.proc?.stdin!.writable) this.proc.stdin!.write(`${line}\n`);
  }
}
