/**
 * `mcp-sidecar doctor [the options of a run]`: checks, in order, what a run with these options needs, and says
 * for each check ✔ (what it found), ✘ (why, and the fix) or - (skipped: a check it needs failed). Exit 0 only when
 * every check passes; 1 when one fails; 2 when the options themselves are wrong (as for a run).
 */
import { helpText, parseRunOptions, type Config } from '../config.js';
import { createLogger } from '../log.js';
import { checkAdvertise, checkPort } from './network-checks.js';
import { checkConsulReachable, checkConsulToken, checkKongReachable, checkKongWrite } from './registry-checks.js';
import { runChecks, type Check } from './report.js';
import { checkServer } from './server-check.js';

export function doctorChecks(config: Config): Check[] {
  // The server's own log lines would interleave with the report: only errors, and on stderr.
  const log = createLogger('error');
  const checks: Check[] = [
    {
      id: 'server',
      title: `MCP server (${[config.command, ...config.args].join(' ')})`,
      run: () => checkServer(config, log),
    },
    { id: 'port', title: 'port', run: () => checkPort(config) },
  ];
  if (config.consul) {
    checks.push(
      { id: 'consul', title: 'Consul agent', run: () => checkConsulReachable(config) },
      { id: 'consul-token', title: 'Consul token', needs: ['consul'], run: () => checkConsulToken(config) },
    );
  }
  if (config.kong) {
    checks.push(
      { id: 'kong', title: 'Kong Admin API', run: () => checkKongReachable(config) },
      { id: 'kong-write', title: 'Kong entities', needs: ['kong'], run: () => checkKongWrite(config) },
    );
  }
  checks.push({ id: 'advertise', title: 'advertised address', needs: ['port'], run: () => checkAdvertise(config) });
  return checks;
}

export function doctorHelp(): string {
  return [
    'mcp-sidecar doctor: check a set-up before running it, with the same options as a run. In order: the MCP server',
    'command resolves and completes a handshake (then it is stopped); the port is free; with --consul, the agent',
    'answers and the token may register, pass a TTL check on and deregister a probe service; with --kong-admin, the',
    'Admin API answers (its version) and a tagged probe entity can be created and removed; the advertised address',
    'leads to the port from this host. Prints ✔ or ✘ with the fix for each; exits 0 only when all pass.',
    '',
    'Usage:',
    '  mcp-sidecar doctor [options] -- <command> [args...]',
    '',
    helpText(),
  ].join('\n');
}

export async function doctorCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const config = parseRunOptions(argv, 'doctor');
  if (typeof config === 'string') {
    out(config);
    return 2;
  }
  if (config.help) {
    out(doctorHelp());
    return 0;
  }
  out(`mcp-sidecar doctor: checking the set-up of "${config.name}"`);
  const results = await runChecks(doctorChecks(config), out);
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  out(
    failed === 0
      ? `all ${results.length} checks passed`
      : `${failed} check${failed === 1 ? '' : 's'} failed${skipped ? `, ${skipped} skipped` : ''}`,
  );
  return failed === 0 ? 0 : 1;
}
