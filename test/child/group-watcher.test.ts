/**
 * The watcher ends the listed process groups when its sidecar dies by SIGKILL: a real Node process stands in for
 * the sidecar, with real process groups, and is killed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { isLive, readProcStat } from '../../sidecar/child/proc-stat.js';
import { groupMembers, sigkill, waitFor } from '../support/sidecar-process.js';

const watcherModule = new URL('../../sidecar/child/group-watcher.js', import.meta.url).href;

interface Owner {
  proc: ChildProcess;
  /** Every line the owner printed: its report and its watcher's log lines. */
  lines(): Array<Record<string, any>>;
  groups: number[];
  watcher: number;
}

/** A stand-in sidecar: a watcher, three process groups (a shell and a sleeping member each), the last removed. */
async function owner(): Promise<Owner> {
  const code = `
    import { spawn } from 'node:child_process';
    import { GroupWatcher } from ${JSON.stringify(watcherModule)};
    const say = (o, msg) => process.stdout.write(JSON.stringify({ ...o, msg }) + '\\n');
    const watcher = new GroupWatcher({ warn: say, info: say });
    watcher.start();
    const groups = [1, 2, 3].map(() => spawn('/bin/sh', ['-c', 'sleep 60 & wait'], { detached: true, stdio: 'ignore' }).pid);
    for (const g of groups) watcher.add(g);
    watcher.remove(groups[2]);
    say({ groups, watcher: watcher.pid }, 'report');
    setInterval(() => say({ watcher: watcher.pid }, 'report'), 100);`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const lines = () =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  const first = await waitFor(() => lines().find((l) => l.groups), 10_000, 'the owner to report');
  return { proc, lines, groups: first.groups, watcher: first.watcher };
}

test('SIGKILL of the owner: every listed group is ended, a removed one is never signalled, the watcher exits', async (t) => {
  const o = await owner();
  t.after(() => void o.groups.forEach((g) => groupMembers(g).forEach((pid) => process.kill(pid, 'SIGKILL'))));
  await waitFor(
    () => o.groups.every((g) => groupMembers(g).length === 2),
    5000,
    'each group to have its shell and its sleep',
  );
  await sigkill(o.proc);
  await waitFor(
    () => groupMembers(o.groups[0]).length === 0 && groupMembers(o.groups[1]).length === 0,
    3000,
    'the listed groups to be gone',
  );
  await waitFor(() => !isLive(readProcStat(o.watcher)), 3000, 'the watcher to exit');
  assert.equal(
    groupMembers(o.groups[2]).length,
    2,
    'the group removed from the list still runs: its number is no longer ours to signal',
  );
});

test('a watcher killed under the sidecar is replaced, and the replacement knows every group', async (t) => {
  const o = await owner();
  t.after(() => void o.groups.forEach((g) => groupMembers(g).forEach((pid) => process.kill(pid, 'SIGKILL'))));
  t.after(() => sigkill(o.proc));
  await new Promise((r) => setTimeout(r, 1100)); // a watcher that dies at once is not restarted (see MIN_LIFE_MS)
  process.kill(o.watcher, 'SIGKILL');
  const next = await waitFor(
    () => o.lines().find((l) => l.watcher && l.watcher !== o.watcher)?.watcher as number | undefined,
    3000,
    'a new watcher',
  );
  assert.ok(
    o.lines().some((l) => /the process-group watcher ended unexpectedly; started another/.test(l.msg)),
    JSON.stringify(o.lines()),
  );
  await sigkill(o.proc);
  await waitFor(
    () => groupMembers(o.groups[0]).length === 0 && groupMembers(o.groups[1]).length === 0,
    3000,
    'the listed groups to be gone',
  );
  await waitFor(() => !isLive(readProcStat(next)), 3000, 'the new watcher to exit');
  assert.equal(groupMembers(o.groups[2]).length, 2);
});
