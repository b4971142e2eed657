/**
 * One fault scenario's run: the real sidecar (registering with a real Consul agent) in front of a server, a
 * closed-loop load, the fault, and the instruments that fill the row: requests ok / failed / hung, sidecar
 * exits, orphan processes, phantom registrations, peak RSS of the sidecar's process tree.
 *
 * Probes are the fault's own requests with an answer the issue prescribes (an Origin that must be refused, a
 * body nested too deep that must get 400, …): one that gets another answer counts as failed, and the note says
 * what came back.
 */
import type { ConsulAgent } from '../../test/support/consul-agent.js';
import { serviceIdOf } from '../../test/support/consul-sidecar.js';
import { readyz, startSidecar, type RunningSidecar } from '../../test/support/sidecar-process.js';
import { RssSampler } from '../process-stats.js';
import { isTimeout, Load, Tally, type LoadOptions } from './load.js';
import { PhantomWatch } from './phantom-watch.js';
import { ProcessWatch } from './process-watch.js';

export interface FaultSettings {
  /** --request-timeout given to every sidecar; a request unanswered this long + 5 s is hung. */
  requestTimeoutMs: number;
  /** Load before the fault, and after it. */
  beforeMs: number;
  afterMs: number;
  mcpClients: number;
  restClients: number;
  paceMs: number;
  /** The shortened suite (npm test) uses smaller floods where the numbers take long on 2 cores. */
  quick: boolean;
}

export const FULL_SETTINGS: FaultSettings = {
  requestTimeoutMs: 10_000,
  beforeMs: 1500,
  afterMs: 2500,
  mcpClients: 3,
  restClients: 2,
  paceMs: 3,
  quick: false,
};
export const QUICK_SETTINGS: FaultSettings = {
  requestTimeoutMs: 5000,
  beforeMs: 1000,
  afterMs: 1500,
  mcpClients: 2,
  restClients: 1,
  paceMs: 5,
  quick: true,
};

export const PING_INTERVAL_MS = 1000;
/** The sidecar's default check TTL: 3 × --ping-interval. */
export const CHECK_TTL_MS = 3 * PING_INTERVAL_MS;

export interface FaultEnv {
  consul: ConsulAgent;
  settings: FaultSettings;
  progress(line: string): void;
}

export interface FaultRow {
  fault: string;
  ok: number;
  failed: number;
  hung: number;
  sidecarExits: number;
  orphans: number;
  phantoms: number;
  peakRssMb: number;
  /** Probes that got another answer than the issue prescribes (part of `failed` or `hung`). */
  probesWrong: number;
  notes: string[];
}

export const hungMs = (s: FaultSettings) => s.requestTimeoutMs + 5000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunSpec {
  id: string;
  command: string[];
  args?: string[];
  /** Load callers (default: the settings' numbers). */
  mcp?: number;
  rest?: number;
}

export class FaultRun {
  readonly probes = new Tally();
  readonly notes: string[] = [];
  /** The scenario kills or stops the sidecar itself: that exit is the fault, not a finding. */
  private exitExpected = false;
  private exitCodeMatters = true;
  private load: Load | undefined;
  private readonly rss: RssSampler;
  private readonly processes: ProcessWatch;
  private readonly phantoms: PhantomWatch;
  private probesWrong = 0;

  private constructor(
    readonly env: FaultEnv,
    readonly spec: RunSpec,
    readonly sidecar: RunningSidecar,
    readonly serviceId: string,
  ) {
    this.rss = new RssSampler(sidecar.pid).start();
    this.processes = new ProcessWatch(sidecar.pid).start();
    this.phantoms = new PhantomWatch(env.consul, serviceId, sidecar.url, () => this.running, CHECK_TTL_MS).start();
  }

  static async start(env: FaultEnv, spec: RunSpec): Promise<FaultRun> {
    const name = `faults-${spec.id}-${process.pid}`;
    const s = env.settings;
    const sidecar = await startSidecar([
      '--name',
      name,
      '--consul',
      env.consul.url,
      '--ping-interval',
      `${PING_INTERVAL_MS}ms`,
      '--request-timeout',
      `${s.requestTimeoutMs}ms`,
      '--shutdown-grace',
      '2s',
      '--stop-timeout',
      '500ms',
      '--log-level',
      'warn',
      ...(spec.args ?? []),
      '--',
      ...spec.command,
    ]);
    return new FaultRun(env, spec, sidecar, serviceIdOf(name, sidecar.url));
  }

  get url(): string {
    return this.sidecar.url;
  }

  get running(): boolean {
    return this.sidecar.proc.exitCode === null && this.sidecar.proc.signalCode === null;
  }

  get hungMs(): number {
    return hungMs(this.env.settings);
  }

  /** Resolves when /readyz answers 200 (false after `timeoutMs`). */
  async ready(timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.running) {
      if ((await readyz(this.url).catch(() => ({ status: 0 }))).status === 200) return true;
      await sleep(50);
    }
    return false;
  }

  async workerPid(): Promise<number | undefined> {
    return (await readyz(this.url).catch(() => undefined))?.body.worker?.pid;
  }

  startLoad(extra: Partial<LoadOptions> = {}): Load {
    const s = this.env.settings;
    this.load = new Load(new URL(this.url).origin, {
      mcp: this.spec.mcp ?? s.mcpClients,
      rest: this.spec.rest ?? s.restClients,
      hungMs: this.hungMs,
      paceMs: s.paceMs,
      tag: this.spec.id,
      ...extra,
    }).start();
    return this.load;
  }

  /** The scenario kills the sidecar on purpose (SIGKILL): its exit is not counted. */
  expectExit(opts: { anyCode?: boolean } = {}): void {
    this.exitExpected = true;
    this.exitCodeMatters = !opts.anyCode;
  }

  note(line: string): void {
    this.notes.push(line);
  }

  /**
   * One probe: `send` makes the request and returns what came back as text; `verdict` returns undefined when it is
   * the prescribed answer, or what is wrong. No answer within the hung bound is hung.
   */
  async probe(
    what: string,
    send: (signal: AbortSignal) => Promise<string>,
    verdict: (answer: string) => string | undefined,
  ): Promise<void> {
    const started = Date.now();
    let problem: string | undefined;
    try {
      const answer = await send(AbortSignal.timeout(this.hungMs));
      problem = verdict(answer);
      if (problem === undefined) this.probes.ok++;
      else this.probes.fail(`${what}: ${problem}`);
    } catch (err) {
      if (isTimeout(err) || Date.now() - started >= this.hungMs) {
        problem = `no answer within ${this.hungMs} ms`;
        this.probes.hang(`${what}: ${problem}`);
      } else {
        problem = (err as Error).message;
        this.probes.fail(`${what}: ${problem}`);
      }
    }
    if (problem !== undefined) {
      this.probesWrong++;
      // one note per kind of wrong answer, not one per probe
      const line = `${what}: ${problem}`.slice(0, 240);
      if (!this.notes.includes(line) && this.notes.length < 12) this.notes.push(line);
    }
  }

  /**
   * Ends the run: stops the load, stops the sidecar (SIGTERM; SIGKILL if it does not end within its grace),
   * counts its unexpected exits, the orphans, the phantoms; then ends every orphan.
   */
  async finish(): Promise<FaultRow> {
    const tally = new Tally();
    if (this.load) tally.add(await this.load.stop());
    // the load's failure reasons go to the notes; the probes' are there already
    const loadSamples = [...tally.samples];
    tally.add(this.probes);
    let exits = 0;
    const exitedAlready = !this.running;
    if (exitedAlready && !this.exitExpected) {
      exits++;
      const { code, signal } = await this.sidecar.exited;
      this.note(`the sidecar exited by itself (code ${code}, signal ${signal}): ${lastLogLine(this.sidecar.logs())}`);
    }
    if (!exitedAlready) {
      this.processes.poll();
      this.sidecar.proc.kill('SIGTERM');
      const bound = 2000 + 2 * 500 + 5000 + 3000; // --shutdown-grace + 2 × --stop-timeout + registry withdraw + slack
      const timer = setTimeout(() => this.sidecar.proc.kill('SIGKILL'), bound);
      const { code, signal } = await this.sidecar.exited;
      clearTimeout(timer);
      if (code !== 0) {
        exits++;
        this.note(
          `SIGTERM: the sidecar ended with code ${code}, signal ${signal} (must be 0 within ${bound} ms): ${lastLogLine(this.sidecar.logs())}`,
        );
      }
    } else if (this.exitExpected && this.exitCodeMatters) {
      const { code } = await this.sidecar.exited;
      if (code !== 0 && code !== null) {
        exits++;
        this.note(`the sidecar ended with code ${code} (must be 0)`);
      }
    }
    const peakRssMb = this.rss.stop() / 1024;
    this.processes.stop();
    const phantoms = await this.phantoms.settle();
    // The sidecar's own exit path ends the server's group; give it a moment before counting what is left.
    await sleep(1000);
    const orphans = this.processes.leftovers();
    if (orphans.length > 0)
      this.note(`orphans left after the sidecar ended: pids ${orphans.join(', ')} (ended by the suite)`);
    this.processes.killLeftovers();
    for (const sample of loadSamples) if (this.notes.length < 12) this.notes.push(`load ${sample}`);
    return {
      fault: this.spec.id,
      ok: tally.ok,
      failed: tally.failed,
      hung: tally.hung,
      sidecarExits: exits,
      orphans: orphans.length,
      phantoms,
      peakRssMb,
      probesWrong: this.probesWrong,
      notes: this.notes,
    };
  }
}

function lastLogLine(logs: string): string {
  const lines = logs.trim().split('\n');
  const fatal = lines.filter((l) => /"level":(50|60)/.test(l)).pop();
  return (fatal ?? lines.pop() ?? '').slice(0, 300);
}

/**
 * The common shape: start the sidecar and wait for it to be ready (unless the scenario is about never being
 * ready), load for `beforeMs`, run the fault, load for `afterMs`, finish. The fault may end the load earlier
 * (it gets the Load).
 */
export async function underLoad(
  env: FaultEnv,
  spec: RunSpec & { waitReady?: boolean },
  fault: (run: FaultRun, load: Load) => Promise<void>,
): Promise<FaultRow> {
  const run = await FaultRun.start(env, spec);
  try {
    if (spec.waitReady !== false && !(await run.ready())) run.note('the sidecar never became ready');
    const load = run.startLoad();
    await sleep(env.settings.beforeMs);
    await fault(run, load);
    await sleep(env.settings.afterMs);
  } catch (err) {
    run.note(`the scenario broke: ${(err as Error).message}`);
  }
  return run.finish();
}

/** One row of the table: `quick` rows also run in the shortened suite inside npm test. */
export interface FaultScenario {
  id: string;
  /** What the row shows, in the words. */
  title: string;
  quick: boolean;
  run(env: FaultEnv): Promise<FaultRow>;
}
