/**
 * The section of the option table that says who may call: the authentication mode and its credentials.
 * (table.ts puts it together with the rest; config.ts checks that the choice fits the bind address.)
 */
import { isLoopback } from '../http/origin-guard.js';
import { choice, list, text } from './option.js';
import { ConfigError, parseHttpUrl, parseKeyValue, readOptionFile } from './validate.js';

export const AUTH = {
  auth: choice({
    flag: 'auth',
    values: ['none', 'bearer', 'jwt'],
    arg: 'mode',
    help:
      'who may call /mcp and /tools: bearer = a token of --auth-token-file; jwt = an OAuth 2.1 access token ' +
      '(--auth-issuer, --auth-jwks-url, --auth-resource); none = anyone who reaches the port ' +
      '(default none on a loopback address; any other bind address needs an explicit choice)',
  }),
  authTokenFile: text({
    flag: 'auth-token-file',
    arg: 'path',
    help: 'with --auth bearer: the accepted tokens, one per line (# comments), re-read when the file changes',
  }),
  authIssuer: text({
    flag: 'auth-issuer',
    arg: 'url',
    help: "with --auth jwt: the authorization server; a token's iss must be exactly this",
  }),
  authJwksUrl: text({
    flag: 'auth-jwks-url',
    arg: 'url',
    help: "with --auth jwt: the issuer's JWKS (cached; fetched again for a key id it does not hold)",
  }),
  authResource: text({
    flag: 'auth-resource',
    arg: 'url',
    help:
      "with --auth jwt: this server's resource URL as clients reach it (e.g. through Kong: https://gw/memory/mcp); " +
      "a token's aud must name it (RFC 8707)",
  }),
  authScopes: list({
    flag: 'auth-scopes',
    split: true,
    arg: 's,s',
    help: 'with --auth jwt: scopes every token must carry (403 insufficient_scope otherwise)',
  }),
  toolsAllow: list({
    flag: 'tools-allow',
    split: true,
    arg: 'name,name',
    help: 'only these tools exist for callers (names, * globs); others are absent from lists, the registries and calls',
  }),
  toolsDeny: list({
    flag: 'tools-deny',
    split: true,
    arg: 'name,name',
    help: 'these tools do not exist for callers (names, * globs; wins over --tools-allow)',
  }),
  toolScopes: list({
    flag: 'tool-scope',
    item: parseToolScope,
    arg: 'tool=scope',
    help: 'with --auth jwt: the tool (name or * glob) exists only for callers whose token grants the scope (repeatable)',
  }),
};

/** One --tool-scope: a tool name or glob, and one OAuth scope (a scope has no spaces, RFC 6749 3.3). */
function parseToolScope(text: string, source: string): [string, string] {
  const [tool, scope] = parseKeyValue(text, source);
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) {
    throw new ConfigError(
      `${source} "${text}": the scope must be one OAuth scope (printable, no spaces or quotes), e.g. --tool-scope delete_*=mcp:admin`,
    );
  }
  return [tool, scope];
}

/** How the sidecar authenticates callers, decided from --auth, the bind address and the token file. */
export type AuthConfig =
  /** `explicit`: --auth none was given (a warning at start) rather than implied by a loopback address. */
  | { mode: 'none'; explicit: boolean }
  | { mode: 'bearer'; tokenFile: string }
  | { mode: 'jwt'; issuer: string; jwksUrl: string; resource: string; scopes: string[] };

/** The options of the AUTH section, as parsed. */
interface AuthValues {
  auth: 'none' | 'bearer' | 'jwt' | undefined;
  authTokenFile: string | undefined;
  authIssuer: string | undefined;
  authJwksUrl: string | undefined;
  authResource: string | undefined;
  authScopes: string[];
  toolScopes: Array<[string, string]>;
}

/** RFC 6750's b64token: what may follow `Bearer ` in an Authorization header. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The tokens of a token file: one a line, blank lines and `# comments` skipped. A line that cannot be a bearer
 * token is a mistake; the message names the line, never its text (it may be a secret with a typo).
 */
export function tokensIn(text: string, source: string): string[] {
  const tokens: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!TOKEN.test(line)) {
      throw new ConfigError(
        `${source} line ${i + 1}: not a bearer token (use letters, digits and -._~+/ only, e.g. the output of \`openssl rand -hex 32\`)`,
      );
    }
    tokens.push(line);
  });
  return tokens;
}

/** The tokens of a file an option names: readable, and at least one. */
export function readTokens(path: string, source: string, readFile: (path: string) => string): string[] {
  const tokens = tokensIn(readOptionFile(path, source, readFile), `${source} ${path}`);
  if (tokens.length === 0) {
    throw new ConfigError(`${source} ${path}: no token in it; write one per line (e.g. \`openssl rand -hex 32\`)`);
  }
  return tokens;
}

/**
 * Secure by default: on a loopback address only this machine can call, so no authentication is needed; bound to
 * anything else, the operator must say who may call (a token file), or say explicitly that anyone may.
 */
export function authConfig(values: AuthValues, host: string, readFile: (path: string) => string): AuthConfig {
  const { auth: mode, authTokenFile: tokenFile } = values;
  if (mode === undefined && !isLoopback(host)) {
    throw new ConfigError(
      `--host ${host} is not a loopback address, so anyone who reaches the port could call every tool; ` +
        'add --auth bearer --auth-token-file <path> (one token per line) or --auth jwt (OAuth access tokens), ' +
        'or --auth none if a gateway or a private network already decides who may call',
    );
  }
  const jwtFlags = { authIssuer: '--auth-issuer', authJwksUrl: '--auth-jwks-url', authResource: '--auth-resource' };
  if (mode !== 'jwt') {
    for (const [key, flag] of Object.entries({
      ...jwtFlags,
      authScopes: '--auth-scopes',
      toolScopes: '--tool-scope',
    })) {
      const value = values[key as keyof AuthValues];
      if (value !== undefined && value.length > 0)
        throw new ConfigError(`${flag} is only read with --auth jwt; add --auth jwt`);
    }
  }
  if (mode === 'bearer') {
    if (!tokenFile) throw new ConfigError('--auth bearer needs --auth-token-file <path> (one token per line)');
    readTokens(tokenFile, '--auth-token-file', readFile);
    return { mode, tokenFile };
  }
  if (tokenFile) throw new ConfigError('--auth-token-file is only read with --auth bearer; add --auth bearer');
  if (mode === 'jwt') {
    for (const [key, flag] of Object.entries(jwtFlags)) {
      if (!values[key as keyof typeof jwtFlags]) throw new ConfigError(`--auth jwt needs ${flag} <url>`);
    }
    return {
      mode,
      issuer: values.authIssuer!,
      jwksUrl: parseHttpUrl(values.authJwksUrl!, '--auth-jwks-url', 'https://auth.example.com/jwks'),
      resource: parseHttpUrl(values.authResource!, '--auth-resource', 'https://gateway.example.com/memory/mcp'),
      scopes: values.authScopes,
    };
  }
  return { mode: 'none', explicit: mode === 'none' };
}
