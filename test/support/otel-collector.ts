/**
 * A real OpenTelemetry Collector for the tracing test: the otlp receiver (OTLP/HTTP on a free loopback port) and
 * the debug exporter at detailed verbosity, whose log the test reads spans from. The binary comes from
 * otelcol/install.sh (built from the Go module proxy with the Collector's builder, cached like Consul).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './consul-agent.js';
import { distRoot } from './sidecar-process.js';

export interface DebugSpan {
  traceId: string;
  parentId: string;
  id: string;
  name: string;
  kind: string;
  attributes: Record<string, string>;
}

export interface Collector {
  /** OTLP/HTTP base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** The spans the debug exporter printed so far. */
  spans(): DebugSpan[];
  log(): string;
  stop(): Promise<void>;
}

export function collectorBinary(): Promise<string> {
  return new Promise((resolve, reject) => {
    const script = join(distRoot, '..', 'otelcol', 'install.sh');
    execFile('bash', [script], { maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 }, (err, stdout, stderr) => {
      const path = stdout.trim().split('\n').pop();
      if (err || !path)
        reject(new Error(`otelcol/install.sh failed (${err?.message ?? 'no path'}):\n${stderr.slice(-3000)}`));
      else resolve(path);
    });
  });
}

export async function startCollector(dir: string): Promise<Collector> {
  const binary = await collectorBinary();
  const port = await freePort();
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  debug:',
      '    verbosity: detailed',
      'service:',
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '  pipelines:',
      '    traces:',
      '      receivers: [otlp]',
      '      exporters: [debug]',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(binary, ['--config', `file:${config}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!/Everything is ready|Starting HTTP server/.test(output)) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`the collector did not start:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => parseSpans(output),
    log: () => output,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The debug exporter's detailed text: `Span #n` blocks of `Field : value` lines and `-> key: Type(value)`. */
export function parseSpans(text: string): DebugSpan[] {
  return text
    .split(/^Span #\d+$/m)
    .slice(1)
    .map((block) => {
      const field = (name: string) => new RegExp(`^\\s*${name}\\s*: (.*)$`, 'm').exec(block)?.[1]?.trim() ?? '';
      const attributes: Record<string, string> = {};
      const attrs = block.split(/^Attributes:$/m)[1]?.split(/^(?:Events|Links|Span #|ResourceSpans|\S)/m)[0] ?? '';
      for (const m of attrs.matchAll(/^\s*-> ([\w.]+): \w+\((.*)\)$/gm)) attributes[m[1]] = m[2];
      return {
        traceId: field('Trace ID'),
        parentId: field('Parent ID'),
        id: field('ID'),
        name: field('Name'),
        kind: field('Kind'),
        attributes,
      };
    });
}
