/**
 * No process outlives the sidecar (issue 9, defect 9): kill -9 of the real sidecar, with a server that ignores
 * stdin EOF and SIGTERM and has a grandchild, leaves nothing of the server's process group; and what a killed
 * sidecar did leave (its watcher could not act) is ended by the next sidecar with the same service id.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { callTool, launch, session, textOf, within } from '../support/harness.js';
import { fixtureCommand, isRunning, waitFor, watcherPid, type RunningSidecar } from '../support/sidecar-process.js';

type Family = { pid: number; grandchild: number };

/** A stubborn server process and its grandchild, as the server reports them through a session. */
async function family(t: TestContext, url: string): Promise<Family> {
  const client = await session(t, url);
  return JSON.parse(textOf(await callTool(client, 'family'))) as Family;
}

/** Each test's own runtime directory: its records cannot meet another test's. */
function runtimeEnv(): Record<string, string> {
  return { XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), 'orphans-')) };
}

function watcher(sidecar: RunningSidecar): number {
  const pid = watcherPid(sidecar);
  assert.ok(pid, `the sidecar logs its orphan guard:\n${sidecar.logs().slice(-2000)}`);
  return pid;
}

async function killNine(sidecar: RunningSidecar): Promise<void> {
  sidecar.proc.kill('SIGKILL');
  assert.deepEqual(await within(sidecar.exited, 5000), { code: null, signal: 'SIGKILL' });
}

const gone = (pids: number[]) => pids.every((pid) => !isRunning(pid));

test('kill -9 of the sidecar: the server (deaf to stdin EOF and SIGTERM) and its grandchild are gone within seconds', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('stubborn')], { env: runtimeEnv() });
  const f = await family(t, sidecar.url);
  assert.equal(
    sidecar.readyBody!.worker.pid,
    f.pid,
    '/readyz reports the server itself (setpriv execs it), not a wrapper',
  );
  assert.match(sidecar.logs(), /orphan guard: the MCP server dies with the sidecar \(setpriv\)/);
  const guard = watcher(sidecar);
  await killNine(sidecar);
  await waitFor(
    () => gone([f.pid, f.grandchild, guard]),
    3000,
    'the server, its grandchild and the watcher to be gone',
  );
});

test("isolated mode: kill -9 of the sidecar ends every session's server and grandchild, and the primary", async (t) => {
  const sidecar = await launch(t, ['--session-mode', 'isolated', '--', ...fixtureCommand('stubborn')], {
    env: runtimeEnv(),
  });
  const families = await Promise.all([family(t, sidecar.url), family(t, sidecar.url), family(t, sidecar.url)]);
  const pids = [sidecar.readyBody!.worker.pid as number, ...families.flatMap((f) => [f.pid, f.grandchild])];
  assert.equal(new Set(pids).size, 7, `a process per session besides the primary: ${pids}`);
  assert.ok(pids.every(isRunning));
  await killNine(sidecar);
  await waitFor(() => gone(pids), 3000, 'every server process and grandchild to be gone');
});

test('what a killed sidecar left (its watcher could not act) is ended by the next sidecar with the same service id', async (t) => {
  const env = runtimeEnv();
  const args = ['--service-id', 'orphans-reap', '--', ...fixtureCommand('stubborn')];
  const first = await launch(t, args, { env });
  const f = await family(t, first.url);
  // A stopped watcher cannot read the EOF that tells it the sidecar died: the grandchild stays behind.
  const guard = watcher(first);
  process.kill(guard, 'SIGSTOP');
  await killNine(first);
  process.kill(guard, 'SIGKILL');
  await waitFor(() => !isRunning(f.pid), 3000, 'the server to die with the sidecar (parent-death signal)');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(isRunning(f.grandchild), 'the grandchild was left behind, as this test needs');
  t.after(() => void (isRunning(f.grandchild) && process.kill(f.grandchild, 'SIGKILL')));

  const second = await launch(t, args, { env });
  await waitFor(() => !isRunning(f.grandchild), 3000, 'the grandchild to be ended by the new sidecar');
  const ended = second
    .logs()
    .split('\n')
    .find((l) => l.includes('left running by a killed sidecar'));
  assert.ok(ended, second.logs().slice(-2000));
  assert.match(ended, new RegExp(`"pgid":${f.pid}.*"pids":\\[${f.grandchild}\\].*"previousSidecar":${first.pid}`));
  assert.match(
    ended,
    /ended 1 process\(es\) left running by a killed sidecar with service id \\"orphans-reap\\" \(MCP server process group \d+\)/,
  );

  const g = await family(t, second.url);
  assert.ok(isRunning(g.pid) && isRunning(g.grandchild), "the new sidecar ended only its predecessor's processes");
  const records = join(env.XDG_RUNTIME_DIR, `mcp-sidecar-${process.getuid!()}`);
  assert.deepEqual(
    readdirSync(join(records, 'orphans-reap')),
    [`${second.readyBody!.worker.pid}.json`],
    'one record: the live group',
  );
  assert.deepEqual(await second.stop(), { code: 0, signal: null });
  assert.deepEqual(readdirSync(records), [], 'a graceful stop leaves no record behind');
});

test("a second sidecar with the same service id leaves the running one's server alone, and says so", async (t) => {
  const env = runtimeEnv();
  const args = ['--service-id', 'orphans-twice', '--', ...fixtureCommand('stubborn')];
  const first = await launch(t, args, { env });
  const f = await family(t, first.url);
  const second = await launch(t, args, { env });
  assert.match(
    second.logs(),
    new RegExp(`another sidecar with service id \\\\"orphans-twice\\\\" is running \\(pid ${first.pid}\\)`),
  );
  assert.ok(isRunning(f.pid) && isRunning(f.grandchild));
});

test('without setpriv, one log line says what is not covered, and the watcher still ends the whole group', async (t) => {
  // The fixture is started by absolute path; the sidecar's own PATH has no setpriv.
  const sidecar = await launch(t, ['--', ...fixtureCommand('stubborn')], {
    env: { ...runtimeEnv(), PATH: '/nonexistent' },
  });
  const notCovered = sidecar
    .logs()
    .split('\n')
    .filter((l) => l.includes('orphan guard'));
  assert.equal(notCovered.length, 1, notCovered.join('\n'));
  assert.match(
    notCovered[0],
    /orphan guard, not covered: setpriv \(util-linux\) is not on the PATH, so the kernel does not end the MCP server with the sidecar; only the watcher does/,
  );
  const f = await family(t, sidecar.url);
  await killNine(sidecar);
  await waitFor(() => gone([f.pid, f.grandchild]), 3000, 'the server and its grandchild to be gone');
});
