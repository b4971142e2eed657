/**
 * The environment an MCP server gets: an explicit allowlist of the sidecar's own variables plus `--env`
 * pairs. Never the whole environment: the sidecar may hold registry tokens the server has no business seeing.
 */
export const DEFAULT_PASSED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'npm_config_cache',
  'NPM_CONFIG_CACHE',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
];

export function childEnvironment(
  source: NodeJS.ProcessEnv,
  passNames: readonly string[],
  explicit: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...DEFAULT_PASSED_ENV, ...passNames]) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...explicit };
}
