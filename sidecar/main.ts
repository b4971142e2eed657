#!/usr/bin/env -S node --max-semi-space-size=1 --no-allocation-site-pretenuring
/**
 * The mcp-sidecar command: parse the configuration, start the sidecar, print where it listens, and turn
 * signals into the one safe shutdown order. Everything else lives in the parts.
 *
 * The bin line caps V8's semi-spaces at 1 MB (so do `npm start` and the image): with the default 16 MB the
 * sidecar's RSS grew by ~30 MB under load for no throughput the benchmark could measure. With semi-spaces that
 * small, the ~30 calls in flight at a scavenge can make V8 decide that an allocation site's objects live long and
 * allocate them in old space from then on ("pretenuring"): in about half the runs of 2026-07-28 requests at C = 32
 * old space then grew ~30 MB a second, with mark-compacts, for the rest of the process. Per-call objects never
 * outlive their call here, so the bin line turns that heuristic off.
 */
import { readFileSync } from 'node:fs';
import { helpText, parseConfig } from './config.js';
import { createLogger } from './log.js';
import { publishersFor } from './mesh/publishers.js';
import { ConfigError } from './options/validate.js';
import { SIDECAR_VERSION } from './instance.js';
import { Sidecar } from './sidecar.js';
import { startTracing, stopTracing, wantsTracing } from './tracing/tracing.js';

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'kong-config') {
    // Loaded only for the subcommand: serving never pays for the YAML renderer.
    const { kongConfigMain } = await import('./kong-config.js');
    const { exitCode, output } = await kongConfigMain(argv.slice(1));
    (exitCode === 0 ? process.stdout : process.stderr).write(output.endsWith('\n') ? output : `${output}\n`);
    process.exitCode = exitCode;
    return;
  }

  if (argv[0] === 'doctor') {
    const { doctorCommand } = await import('./doctor/doctor.js');
    process.exitCode = await doctorCommand(argv.slice(1), (line) => process.stdout.write(`${line}\n`));
    return;
  }

  if (argv[0] === 'openapi') {
    const { openApiCommand } = await import('./openapi/command.js');
    const write = (stream: NodeJS.WriteStream) => (text: string) => stream.write(`${text}\n`);
    process.exitCode = await openApiCommand(argv.slice(1), write(process.stdout), write(process.stderr));
    return;
  }

  let config;
  try {
    config = parseConfig(argv, process.env, (path) => readFileSync(path, 'utf8'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`mcp-sidecar: ${err.message}\nRun "mcp-sidecar --help" for the options.\n`);
    process.exitCode = 2;
    return;
  }
  if (config.help) return void process.stdout.write(`${helpText()}\n`);
  if (config.version) return void process.stdout.write(`${SIDECAR_VERSION}\n`);

  const log = createLogger(config.logLevel);
  // The OpenTelemetry SDK is loaded only when the OTEL_* environment asks for traces.
  if (wantsTracing(process.env))
    await startTracing(process.env, { name: config.name, version: SIDECAR_VERSION }, log.child({ part: 'tracing' }));
  const sidecar = new Sidecar(
    config,
    log,
    (instance) => publishersFor(config, instance, log),
    (code) => process.exit(code),
  );

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: killing the MCP server now and exiting');
      sidecar.forceStop();
      process.exit(1);
    }
    log.info(
      { signal },
      `${signal} received: withdrawing from registries, draining, then stopping the MCP server (send again to force)`,
    );
    sidecar.shutdown(signal).then(
      () => stopTracing().then(() => process.exit(0)),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        sidecar.forceStop();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // If the sidecar itself crashes, the server's process group must not outlive it.
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? err.message }, 'uncaught exception: stopping the MCP server and exiting');
    sidecar.forceStop();
    process.exit(70);
  });

  let url: string;
  try {
    url = await sidecar.start();
  } catch (err) {
    process.stderr.write(`mcp-sidecar: cannot start: ${(err as Error).message}\n`);
    sidecar.forceStop();
    process.exit(1);
  }
  log.info({ url, command: [config.command, ...config.args], name: config.name }, 'listening; starting the MCP server');
  process.stdout.write(
    `mcp-sidecar: serving ${config.name} at ${url} (MCP /mcp, REST /tools, /openapi.json, /healthz, /readyz, /metrics)\n`,
  );
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`mcp-sidecar: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
