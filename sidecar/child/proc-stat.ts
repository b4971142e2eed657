/**
 * The few facts of /proc/<pid>/stat (Linux) that finding leftover processes needs: state, process group, and the
 * start time that tells a process apart from a later one that got the same pid.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z (zombie), … */
  state: string;
  pgid: number;
  /** Clock ticks after boot at which the process started: a reused pid has a later one. */
  startTime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // no such process (or no /proc)
  }
  // Field 2 is the command name in parentheses, and may itself hold spaces and ')': count after the last ')'.
  // fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: Number(fields[19]) };
}

/** A zombie has ended; it only waits for its parent to collect its status, so it counts as gone. */
export function isLive(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Every live process this user can see. */
export function liveProcesses(): ProcStat[] {
  const found: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (isLive(stat)) found.push(stat);
  }
  return found;
}

/**
 * Where pids and start times mean the same thing: this boot (start times count from it) and this pid namespace
 * (a restarted container numbers its processes from 1 again).
 */
export function pidSpace(): string | undefined {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}
