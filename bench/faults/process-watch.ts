/**
 * Orphans: processes the sidecar started that outlive it. While the sidecar runs, every process of its tree is
 * remembered with its start time (so a reused pid is never mistaken for ours) and its process group (the sidecar
 * starts each server in a group of its own; a grandchild that left the tree stays in that group). Once the
 * sidecar has ended, whatever still runs (zombies count as dead) under a remembered pid or in a remembered group
 * is an orphan. The watch also ends them, so a run never leaves anything behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processTree } from '../process-stats.js';

interface Seen {
  startTime: string;
  pgid: number;
}

interface Stat {
  state: string;
  pgid: number;
  startTime: string;
}

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], pgid: Number(fields[2]), startTime: fields[19] };
}

export class ProcessWatch {
  private readonly seen = new Map<number, Seen>();
  private readonly ownGroup = stat(process.pid)?.pgid;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly root: number) {}

  start(intervalMs = 100): this {
    this.poll();
    this.timer = setInterval(() => this.poll(), intervalMs);
    return this;
  }

  /** Processes of the tree now (the sidecar's descendants). */
  poll(): number {
    const tree = processTree(this.root).filter((pid) => pid !== this.root);
    for (const pid of tree) {
      const s = stat(pid);
      if (s && !this.seen.has(pid)) this.seen.set(pid, { startTime: s.startTime, pgid: s.pgid });
    }
    return tree.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Live processes that are ours: a remembered pid with the same start time, or any member of a remembered group. */
  leftovers(): number[] {
    const groups = new Set(
      [...this.seen.values()].map((s) => s.pgid).filter((g) => g !== this.ownGroup && g !== this.root),
    );
    const found: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const s = stat(pid);
      if (!s || s.state === 'Z' || pid === this.root) continue;
      const known = this.seen.get(pid);
      if ((known && known.startTime === s.startTime) || groups.has(s.pgid)) found.push(pid);
    }
    return found;
  }

  /** SIGKILLs what `leftovers` finds (cleanup after counting). */
  killLeftovers(): void {
    for (const pid of this.leftovers()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
