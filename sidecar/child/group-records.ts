/**
 * What a killed sidecar left running, found by the next sidecar with the same service id.
 *
 * Each live process group of an MCP server has a small file, written at spawn and removed when the group is
 * gone: the group id, its leader's start time, the boot and pid namespace, and the sidecar that owns it. A sidecar
 * that starts reads the files of its service id; where the owner is dead, it ends the group's processes — but only
 * processes that can be that group: same pgid, started no earlier than the recorded leader, and, if the leader
 * itself is still there, the leader's exact start time. A pid the kernel reused for something else is never
 * signalled. A group whose owner is alive belongs to another sidecar with the same service id and is left alone.
 *
 * Linux only (/proc). Residual risk, accepted: if the whole group died and the kernel reused the group's number
 * for a new group whose own leader is dead too, before the restart, that group would match.
 */
import { mkdirSync, lstatSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { isLive, liveProcesses, pidSpace, readProcStat } from './proc-stat.js';

interface GroupRecord {
  pgid: number;
  startTime: number;
  /** Boot and pid namespace: pids and start times from another boot or container mean nothing here. */
  pidSpace: string;
  owner: { pid: number; startTime: number };
  command: string;
}

/** Where the records of one service id live: the user's runtime dir (cleared at boot), else the OS temp dir. */
export function recordsDirectory(serviceId: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_RUNTIME_DIR || tmpdir();
  const uid = process.getuid?.() ?? 0;
  // --service-id is free text; a file name must not climb out of the directory.
  const safe = serviceId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
  return join(base, `mcp-sidecar-${uid}`, safe);
}

export class GroupRecords {
  private constructor(
    readonly dir: string,
    private readonly serviceId: string,
    private readonly self: { pid: number; startTime: number },
    private readonly pidSpace: string,
    private readonly log: Logger,
  ) {}

  /** The records of `serviceId`, or the reason there can be none here. */
  static open(serviceId: string, log: Logger): GroupRecords | string {
    const self = readProcStat(process.pid);
    const space = pidSpace();
    if (!self || !space) return 'no /proc on this system';
    const dir = recordsDirectory(serviceId);
    const parent = join(dir, '..');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // In a shared /tmp another user could have made the directory first and planted records that name our own
      // processes: use it only if it is ours and closed to others.
      const stat = lstatSync(parent);
      if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) {
        return `${parent} is not a private directory of this user (owner ${stat.uid}, mode ${(stat.mode & 0o777).toString(8)}); remove it or set XDG_RUNTIME_DIR`;
      }
    } catch (err) {
      return `cannot use ${dir}: ${(err as Error).message}; set XDG_RUNTIME_DIR to a writable directory`;
    }
    return new GroupRecords(dir, serviceId, { pid: process.pid, startTime: self.startTime }, space, log);
  }

  /** Records a group right after its leader was spawned. */
  write(pgid: number, command: string): void {
    const leader = readProcStat(pgid);
    if (!isLive(leader)) return; // already gone: nothing can be left behind
    const record: GroupRecord = {
      pgid,
      startTime: leader.startTime,
      pidSpace: this.pidSpace,
      owner: this.self,
      command: command.slice(0, 300),
    };
    try {
      writeFileSync(join(this.dir, `${pgid}.json`), JSON.stringify(record), { mode: 0o600 });
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, pgid },
        'could not record the MCP server process group; if the sidecar is killed, the next start will not find it',
      );
    }
  }

  remove(pgid: number): void {
    try {
      unlinkSync(join(this.dir, `${pgid}.json`));
    } catch {
      // never written (the process was gone at once) or already removed
    }
  }

  /** The directory goes when its last record does; another sidecar with this id may still have some. */
  close(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty, or already gone
    }
  }

  /** Ends what dead sidecars with this service id left running. Returns the pids it signalled. */
  reapLeftovers(): number[] {
    const records = this.readAll();
    if (records.length === 0) return [];
    const byGroup = new Map<number, Array<{ pid: number; startTime: number }>>();
    for (const p of liveProcesses()) byGroup.set(p.pgid, [...(byGroup.get(p.pgid) ?? []), p]);
    const ended: number[] = [];
    const othersWarned = new Set<number>();
    for (const record of records) {
      const owner = readProcStat(record.owner.pid);
      const samePidSpace = record.pidSpace === this.pidSpace;
      if (samePidSpace && isLive(owner) && owner.startTime === record.owner.startTime) {
        if (!othersWarned.has(record.owner.pid)) {
          othersWarned.add(record.owner.pid);
          this.log.warn(
            { otherSidecar: record.owner.pid, serviceId: this.serviceId },
            `another sidecar with service id "${this.serviceId}" is running (pid ${record.owner.pid}); its MCP server processes are left alone. Give each sidecar its own --service-id`,
          );
        }
        continue;
      }
      const members = samePidSpace ? (byGroup.get(record.pgid) ?? []) : [];
      const leader = members.find((m) => m.pid === record.pgid);
      const ours =
        (leader === undefined || leader.startTime === record.startTime) &&
        members.every((m) => m.startTime >= record.startTime);
      if (members.length > 0 && ours) {
        try {
          process.kill(-record.pgid, 'SIGKILL');
          const pids = members.map((m) => m.pid);
          ended.push(...pids);
          this.log.warn(
            { pgid: record.pgid, pids, previousSidecar: record.owner.pid, command: record.command },
            `ended ${pids.length} process(es) left running by a killed sidecar with service id "${this.serviceId}" (MCP server process group ${record.pgid})`,
          );
        } catch (err) {
          this.log.warn(
            { pgid: record.pgid, err: (err as Error).message },
            `could not end process group ${record.pgid} left by a killed sidecar; end it by hand: kill -9 -- -${record.pgid}`,
          );
        }
      } else if (members.length > 0) {
        this.log.info(
          { pgid: record.pgid },
          `process group ${record.pgid} recorded by a killed sidecar now belongs to other processes; left alone`,
        );
      }
      this.remove(record.pgid);
    }
    return ended;
  }

  private readAll(): GroupRecord[] {
    const found: GroupRecord[] = [];
    for (const file of readdirSync(this.dir)) {
      if (!/^\d+\.json$/.test(file)) continue;
      try {
        const record = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as GroupRecord;
        if (Number.isInteger(record.pgid) && record.pgid > 1 && `${record.pgid}.json` === file && record.owner)
          found.push(record);
        else throw new Error('not a process-group record');
      } catch (err) {
        this.log.warn(
          { file: join(this.dir, file), err: (err as Error).message },
          'removed an unreadable process-group record',
        );
        try {
          unlinkSync(join(this.dir, file));
        } catch {
          // gone already
        }
      }
    }
    return found;
  }
}
