/**
 * CPU time and resident memory of a process tree, read from /proc (Linux only).
 *
 * The tree is a bridge process plus everything it started (the MCP server child, a shell in between, one child
 * per session for bridges that spawn per session). CPU is counted as utime + stime + cutime + cstime of every
 * process in the tree: a descendant that exits during the window moves its ticks into its parent's cutime, so
 * the sum over the tree stays correct across exits. All reads are synchronous and cheap (a few small files).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const clockTicksPerSecond = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended while we looked
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

// /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN; without it we scan every /proc/<pid>/stat.
const hasChildrenFiles = readText(`/proc/${process.pid}/task/${process.pid}/children`) !== undefined;

function childrenOf(pid: number): number[] {
  if (!hasChildrenFiles) return childrenByScan(pid);
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  // Any thread may have spawned a child, so every task's list counts.
  for (const tid of tasks) {
    const list = readText(`/proc/${pid}/task/${tid}/children`);
    if (!list) continue;
    for (const entry of list.split(' ')) if (entry) children.push(Number(entry));
  }
  return children;
}

function childrenByScan(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // field 4 of stat is the ppid; after slicing off "pid (comm) " it is index 1
    if (fields && Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children;
}

/** Alive and not a zombie (a zombie has exited; it only waits for its parent to reap it). */
export function isRunning(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

/** The root and all of its descendants that are alive now. */
export function processTree(root: number): number[] {
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (statFields(pid) === undefined) continue;
    tree.push(pid);
    pending.push(...childrenOf(pid));
  }
  return tree;
}

/** utime + stime + cutime + cstime in clock ticks; undefined once the process is gone. */
function cpuTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  // stat fields 14..17 (utime, stime, cutime, cstime) sit at indexes 11..14 here
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

export function rssKb(pid: number): number {
  const status = readText(`/proc/${pid}/status`);
  const match = status && /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** CPU milliseconds used so far by the root alone and by its descendants. */
export interface TreeCpu {
  rootMs: number;
  descendantsMs: number;
}

export function treeCpu(root: number): TreeCpu {
  let rootTicks = 0;
  let descendantTicks = 0;
  for (const pid of processTree(root)) {
    const ticks = cpuTicks(pid) ?? 0;
    if (pid === root) rootTicks += ticks;
    else descendantTicks += ticks;
  }
  const toMs = 1000 / clockTicksPerSecond;
  return { rootMs: rootTicks * toMs, descendantsMs: descendantTicks * toMs };
}

export function cpuDelta(before: TreeCpu, after: TreeCpu): TreeCpu {
  return { rootMs: after.rootMs - before.rootMs, descendantsMs: after.descendantsMs - before.descendantsMs };
}

/**
 * CPU milliseconds all processes of the machine have used so far (busy time of the aggregate "cpu" line of
 * /proc/stat: user, nice, system, irq, softirq, steal). Over a window, minus the tree and the benchmark itself,
 * it shows how busy the machine was with other work while we measured.
 */
export function machineBusyMs(): number {
  const line = readText('/proc/stat')?.split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq + (steal || 0)) * 1000) / clockTicksPerSecond;
}

/**
 * Samples the tree's total RSS on an interval and keeps the peak (sum of VmRSS at one instant), and the root's
 * own peak apart (the bridge's share, next to the server children it runs).
 */
export class RssSampler {
  peakKb = 0;
  rootPeakKb = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly root: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling while the tree sits idle (other targets are measured): their sampling costs CPU too. */
  pause(): void {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (!this.timer) this.start();
  }

  sample(): void {
    let total = 0;
    for (const pid of processTree(this.root)) {
      const kb = rssKb(pid);
      total += kb;
      if (pid === this.root) this.rootPeakKb = Math.max(this.rootPeakKb, kb);
    }
    this.peakKb = Math.max(this.peakKb, total);
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.peakKb;
  }
}
