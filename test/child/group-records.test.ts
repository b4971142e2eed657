/**
 * Records of live process groups, read by the next sidecar with the same service id: real process groups, a real
 * "sidecar" (a Node process holding the records) killed with SIGKILL, and /proc as the judge.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { GroupRecords, recordsDirectory } from '../../sidecar/child/group-records.js';
import { isLive, readProcStat } from '../../sidecar/child/proc-stat.js';
import { groupMembers, sigkill, waitFor } from '../support/sidecar-process.js';

const recordsModule = new URL('../../sidecar/child/group-records.js', import.meta.url).href;

function capturingLogger(): { log: pino.Logger; lines: () => Array<Record<string, any>> } {
  const out: string[] = [];
  return {
    log: pino({ level: 'debug' }, { write: (s: string) => void out.push(s) }),
    lines: () => out.map((l) => JSON.parse(l)),
  };
}

/**
 * A stand-in for a sidecar: opens the records of `serviceId`, spawns a process group (a shell leader and two
 * sleeping members), records it, and prints the group id. The test then kills it or lets it live.
 */
async function recordingOwner(
  serviceId: string,
  runtimeDir: string,
): Promise<{ owner: ChildProcess; pgid: number; members: number[] }> {
  const code = `
    import { spawn } from 'node:child_process';
    import { GroupRecords } from ${JSON.stringify(recordsModule)};
    const records = GroupRecords.open(${JSON.stringify(serviceId)}, { warn() {}, info() {} });
    if (typeof records === 'string') throw new Error(records);
    const group = spawn('/bin/sh', ['-c', 'sleep 60 & sleep 60 & wait'], { detached: true, stdio: 'ignore' });
    records.write(group.pid, 'sh -c sleep');
    process.stdout.write(group.pid + '\\n');
    setInterval(() => {}, 60000);`;
  const owner = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  owner.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const pgid = await waitFor(
    () => (/^\d+\n/.test(out) ? Number(out) : undefined),
    10_000,
    'the owner to print its group',
  );
  const members = await waitFor(
    () => {
      const found = groupMembers(pgid);
      return found.length === 3 ? found : undefined;
    },
    5000,
    'the group leader and its two members',
  );
  return { owner, pgid, members };
}

function useRuntimeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'records-'));
  process.env.XDG_RUNTIME_DIR = dir;
  return dir;
}

test('a group recorded by a sidecar that was killed is ended by the next one with the same service id, and logged', async (t) => {
  const runtime = useRuntimeDir();
  const { owner, pgid, members } = await recordingOwner('svc-a', runtime);
  t.after(() => void members.forEach((pid) => process.kill(pid, 'SIGKILL')));
  await sigkill(owner);
  assert.deepEqual(
    groupMembers(pgid).sort(),
    members.sort(),
    'killing the owner alone leaves the group running (nothing else guards it here)',
  );

  const { log, lines } = capturingLogger();
  const records = GroupRecords.open('svc-a', log);
  assert.ok(records instanceof GroupRecords, String(records));
  assert.deepEqual(records.reapLeftovers().sort(), members.sort());
  await waitFor(() => groupMembers(pgid).length === 0, 3000, 'every process of the group to be gone');
  const ended = lines().find((l) =>
    /ended 3 process\(es\) left running by a killed sidecar with service id "svc-a"/.test(l.msg),
  );
  assert.ok(ended, JSON.stringify(lines()));
  assert.equal(ended.pgid, pgid);
  assert.deepEqual(readdirSync(records.dir), [], 'the record is gone with its group');
});

test('a group whose owner is alive belongs to another sidecar with the same service id: left alone, with a warning', async (t) => {
  const runtime = useRuntimeDir();
  const { owner, pgid, members } = await recordingOwner('svc-b', runtime);
  t.after(async () => {
    await sigkill(owner);
    members.forEach((pid) => process.kill(pid, 'SIGKILL'));
  });
  const { log, lines } = capturingLogger();
  const records = GroupRecords.open('svc-b', log) as GroupRecords;
  assert.deepEqual(records.reapLeftovers(), []);
  assert.equal(groupMembers(pgid).length, 3);
  assert.deepEqual(readdirSync(records.dir), [`${pgid}.json`], "the other sidecar's record stays");
  assert.ok(
    lines().some((l) => /another sidecar with service id "svc-b" is running \(pid \d+\).*own --service-id/.test(l.msg)),
    JSON.stringify(lines()),
  );
});

test('a recorded pid that now names another process (other start time, or another boot or container) is never signalled', async (t) => {
  const runtime = useRuntimeDir();
  for (const [change, why] of [
    [(r: Record<string, any>) => (r.startTime -= 1), /now belongs to other processes/],
    [(r: Record<string, any>) => (r.pidSpace = 'another-boot pid:[1]'), undefined],
  ] as const) {
    const { owner, pgid, members } = await recordingOwner('svc-c', runtime);
    t.after(() => void members.forEach((pid) => process.kill(pid, 'SIGKILL')));
    await sigkill(owner);
    // What the kernel reusing the number would look like: the record's leader is not the process there now.
    const file = join(recordsDirectory('svc-c'), `${pgid}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8'));
    change(record);
    writeFileSync(file, JSON.stringify(record));

    const { log, lines } = capturingLogger();
    const records = GroupRecords.open('svc-c', log) as GroupRecords;
    assert.deepEqual(records.reapLeftovers(), []);
    assert.deepEqual(groupMembers(pgid).sort(), members.sort(), 'the processes live on');
    if (why)
      assert.ok(
        lines().some((l) => why.test(l.msg)),
        JSON.stringify(lines()),
      );
    assert.deepEqual(readdirSync(records.dir), [], 'the stale record is dropped');
  }
});

test('an unreadable record is removed with a warning, not trusted', () => {
  useRuntimeDir();
  const { log, lines } = capturingLogger();
  const records = GroupRecords.open('svc-d', log) as GroupRecords;
  writeFileSync(join(records.dir, '12345.json'), '{"pgid": "1"');
  assert.deepEqual(records.reapLeftovers(), []);
  assert.deepEqual(readdirSync(records.dir), []);
  assert.ok(lines().some((l) => l.msg === 'removed an unreadable process-group record'));
});

test('records are refused in a directory others can write to (a planted record could name our processes)', () => {
  const runtime = useRuntimeDir();
  const { log } = capturingLogger();
  assert.ok(GroupRecords.open('svc-e', log) instanceof GroupRecords);
  chmodSync(join(runtime, `mcp-sidecar-${process.getuid!()}`), 0o777);
  assert.match(
    String(GroupRecords.open('svc-e', log)),
    /is not a private directory of this user \(owner \d+, mode 777\); remove it or set XDG_RUNTIME_DIR/,
  );
});

test('a zombie counts as gone: it has ended and only waits for its parent to collect it', async (t) => {
  // The shell starts `sleep 0` and then becomes `sleep 5`, which never waits for it: a zombie for five seconds.
  const parent = spawn('/bin/sh', ['-c', 'sleep 0 & exec sleep 5'], { stdio: 'ignore' });
  t.after(() => parent.kill('SIGKILL'));
  const zombie = await waitFor(() => findZombieChildOf(parent.pid!), 3000, 'the zombie child');
  assert.equal(readProcStat(zombie)?.state, 'Z');
  assert.equal(isLive(readProcStat(zombie)), false);
  assert.equal(isLive(readProcStat(parent.pid!)), true);
});

function findZombieChildOf(ppid: number): number | undefined {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcStat(Number(entry)))
    .find((stat) => stat?.ppid === ppid && stat.state === 'Z')?.pid;
}
