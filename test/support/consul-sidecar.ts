/**
 * Shared steps of the Consul integration tests: a real sidecar process registering with a real agent, and
 * the questions the tests ask the agent. (test/integration/consul*.test.ts use them.)
 */
import { readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import type { ConsulAgent } from './consul-agent.js';
import { descendants, readyz, startSidecar, waitFor, type RunningSidecar } from './sidecar-process.js';

/** Ping every second: the TTL check is then 3 s and every "within one TTL" bound stays short. */
export const PING_INTERVAL_MS = 1000;
export const CHECK_TTL_MS = 3 * PING_INTERVAL_MS;

export function uniqueName(purpose: string): string {
  return `it-${purpose}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Starts `node dist/sidecar/main.js --consul <agent> … -- <command>` and makes sure that, whatever the test
 * does to it (SIGKILL included), neither the sidecar nor the MCP server outlives the test.
 */
export async function sidecarWithConsul(
  t: TestContext,
  consul: ConsulAgent,
  name: string,
  command: string[],
  extra: string[] = [],
): Promise<RunningSidecar> {
  const sidecar = await startSidecar([
    '--name',
    name,
    '--consul',
    consul.url,
    '--ping-interval',
    `${PING_INTERVAL_MS}ms`,
    ...extra,
    '--',
    ...command,
  ]);
  // The server's pids (with their command lines), remembered while the sidecar lives: after a SIGKILL of the
  // sidecar they are orphans, and only a pid that still runs the same command is ours to kill.
  const seen = new Map<number, string>();
  const remember = async () => {
    for (const pid of descendants(sidecar.pid)) if (!seen.has(pid)) seen.set(pid, await cmdline(pid));
  };
  const watch = setInterval(() => void remember(), 200);
  t.after(async () => {
    clearInterval(watch);
    await remember();
    await sidecar.stop('SIGKILL');
    for (const [pid, command] of seen) {
      if (command && (await cmdline(pid)) === command) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  });
  return sidecar;
}

async function cmdline(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

export interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Port: number;
  Address: string;
}

export async function agentService(consul: ConsulAgent, serviceId: string): Promise<AgentService | undefined> {
  const r = await consul.get(`/v1/agent/service/${encodeURIComponent(serviceId)}`);
  return r.status === 200 ? r.body : undefined;
}

/** Status of each check of the service, by the suffix of its CheckID (`mcp-ping`, `readyz`). */
export async function checkStatuses(
  consul: ConsulAgent,
  serviceId: string,
): Promise<Record<string, { Status: string; Output: string }>> {
  const r = await consul.get(`/v1/agent/checks?filter=${encodeURIComponent(`ServiceID == "${serviceId}"`)}`);
  const out: Record<string, { Status: string; Output: string }> = {};
  for (const check of Object.values<any>(r.body ?? {})) out[String(check.CheckID).slice(serviceId.length + 1)] = check;
  return out;
}

/** The id the sidecar registered under, from its /readyz (default `<name>-<host>-<port>`). */
export function serviceIdOf(name: string, url: string): string {
  const { hostname, port } = new URL(url);
  return `${name}-${hostname}-${port}`;
}

export async function childPid(url: string): Promise<number> {
  return waitFor(
    async () => (await readyz(url)).body.worker?.pid as number | undefined,
    10_000,
    'a worker pid in /readyz',
  );
}
