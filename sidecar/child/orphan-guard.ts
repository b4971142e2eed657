/**
 * No process outlives the sidecar, in three layers, each covering what the one before cannot:
 *  1. the kernel: the server runs under util-linux `setpriv --pdeathsig KILL`, which sets the parent-death signal
 *     and then execs the server's argv (no shell, same pid), so the server dies with the sidecar even if it ignores
 *     stdin EOF and SIGTERM;
 *  2. the watcher (group-watcher.ts): on the sidecar's death it SIGKILLs each server's whole process group, which
 *     takes the grandchildren the parent-death signal does not reach;
 *  3. the records (group-records.ts): if both were defeated (the watcher was killed too), the next sidecar with
 *     the same service id ends what the dead one left.
 * Not covered: a grandchild that left the group (setsid, or its own process group) — only a cgroup holds those.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { GroupRecords } from './group-records.js';
import { GroupWatcher } from './group-watcher.js';

export interface SpawnTarget {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export class OrphanGuard {
  private setpriv: string | undefined;
  private watcher: GroupWatcher | undefined;
  private records: GroupRecords | undefined;

  constructor(private readonly log: Logger) {}

  /** Ends what a killed predecessor with this service id left, then covers the processes spawned from now on. */
  start(serviceId: string): void {
    const gaps: string[] = [];
    const setpriv = findExecutable('setpriv', process.env.PATH, process.cwd());
    // util-linux before 2.33 has setpriv without --pdeathsig: try it once rather than trust the name.
    if (
      setpriv &&
      spawnSync(setpriv, ['--pdeathsig', 'KILL', '--', '/bin/sh', '-c', ':'], { stdio: 'ignore', timeout: 5000 })
        .status === 0
    )
      this.setpriv = setpriv;
    else
      gaps.push(
        `${setpriv ? `${setpriv} has no --pdeathsig` : 'setpriv (util-linux) is not on the PATH'}, so the kernel does not end the MCP server with the sidecar; only the watcher does`,
      );

    const records = GroupRecords.open(serviceId, this.log);
    if (typeof records === 'string')
      gaps.push(`leftovers of a killed sidecar are not found at the next start (${records})`);
    else {
      this.records = records;
      try {
        records.reapLeftovers();
      } catch (err) {
        // Serving matters more than the leftovers of a predecessor: say so and go on.
        this.log.warn(
          { err: (err as Error).message, dir: records.dir },
          'could not look for processes a killed sidecar left; check that the directory is readable',
        );
      }
    }

    this.watcher = new GroupWatcher(this.log);
    this.watcher.start();
    const covered = { setpriv: this.setpriv ?? null, watcherPid: this.watcher.pid, records: this.records?.dir ?? null };
    if (gaps.length === 0)
      this.log.info(
        covered,
        'orphan guard: the MCP server dies with the sidecar (setpriv), its process group too (watcher), and a restart ends what a killed sidecar left (records)',
      );
    else this.log.warn(covered, `orphan guard, not covered: ${gaps.join('; ')}`);
  }

  /**
   * The argv to spawn: the server's own behind setpriv. A command that does not resolve is spawned as it is, so
   * that spawning fails with the same "command not found" / "permission denied" the sidecar reports without setpriv.
   */
  wrap(target: SpawnTarget): { command: string; args: string[] } {
    if (
      !this.setpriv ||
      !findExecutable(target.command, target.env.PATH ?? process.env.PATH, target.cwd ?? process.cwd())
    )
      return target;
    return { command: this.setpriv, args: ['--pdeathsig', 'KILL', '--', target.command, ...target.args] };
  }

  /** A server process (the leader of its own group) was spawned. */
  track(pgid: number, target: SpawnTarget): void {
    this.watcher?.add(pgid);
    this.records?.write(pgid, [target.command, ...target.args].join(' '));
  }

  /** The group was SIGKILLed after its leader exited: nothing of it is left to end. */
  untrack(pgid: number): void {
    this.watcher?.remove(pgid);
    this.records?.remove(pgid);
  }

  /** Graceful stop, after every server has stopped. */
  async close(): Promise<void> {
    this.records?.close();
    await this.watcher?.close();
  }
}

/** execvp's lookup: a name with a slash is a path (from cwd); otherwise the first executable file on PATH. */
function findExecutable(command: string, path: string | undefined, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [resolve(cwd, command)]
    : (path ?? '').split(delimiter).map((dir) => resolve(cwd, dir, command));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
