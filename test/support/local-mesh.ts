/**
 * `npm run mesh` for tests: the real launcher (dist/scripts/mesh/local-mesh.js) as a child process on free ports,
 * told the Consul binary through CONSUL_BIN, with what it printed parsed: the Consul UI and each sidecar's URL.
 * Every process under it is remembered while it runs, so a test can tell that none outlived it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consulBinary, freePort } from './consul-agent.js';
import { descendants, distRoot, sigkill, waitFor } from './sidecar-process.js';

export interface LocalMesh {
  proc: ChildProcess;
  consulUrl: string;
  /** Sidecar URLs by service name. */
  sidecars: Record<string, string>;
  output(): string;
  /** Every process seen under the launcher so far (Consul, sidecars, their servers and watchers): pid → command line. */
  seen: Map<number, string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends the mesh whatever state it is in (the test's own cleanup): SIGINT, then SIGKILL of all that is left. */
  cleanup(): Promise<void>;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export async function startLocalMesh(env: Record<string, string> = {}, timeoutMs = 120_000): Promise<LocalMesh> {
  const consulPort = await freePort();
  const proc = spawn(
    process.execPath,
    [join(distRoot, 'scripts', 'mesh', 'local-mesh.js'), '--consul-port', String(consulPort), '--port', '0'],
    { env: { ...process.env, CONSUL_BIN: await consulBinary(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-200_000));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const seen = new Map<number, string>();
  const remember = () => {
    for (const pid of descendants(proc.pid!)) if (!seen.has(pid)) seen.set(pid, commandLine(pid));
  };
  const watch = setInterval(remember, 200);
  void exited.then(() => clearInterval(watch));

  const cleanup = async () => {
    clearInterval(watch);
    if (proc.exitCode === null && proc.signalCode === null) {
      remember();
      proc.kill('SIGINT');
      const timer = setTimeout(() => void sigkill(proc), 60_000);
      await exited;
      clearTimeout(timer);
    }
    // Only a pid that still runs the command it ran under the mesh is ours: pids are reused.
    for (const [pid, command] of seen) {
      if (!command || commandLine(pid) !== command) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };

  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`the mesh exited (code ${proc.exitCode})`);
        return /^mesh: up/m.test(output) && /^Ctrl-C stops everything/m.test(output);
      },
      timeoutMs,
      'the mesh to print "up" and its URLs',
      100,
    );
  } catch (err) {
    await cleanup();
    throw new Error(`${(err as Error).message}; it printed:\n${output.slice(-4000)}`, { cause: err });
  }
  remember();
  const sidecars: Record<string, string> = {};
  for (const [, name, url] of output.matchAll(/^ {2}(everything|filesystem|memory) +(http:\/\/\S+?)\/ /gm))
    sidecars[name] = url;
  const consulUrl = /Consul UI +(http:\/\/\S+?)\/ui\//.exec(output)?.[1] ?? '';
  return { proc, consulUrl, sidecars, output: () => output, seen, exited, cleanup };
}
