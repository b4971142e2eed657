/**
 * Parsing a table of options: node:util parseArgs splits the command line, then each option takes its texts
 * from the flags given, else MCP_SIDECAR_<FLAG>, else the ecosystem's own environment name, else its default.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Option, Options, Values } from './option.js';
import { ConfigError } from './validate.js';

export const envName = (flag: string): string => `MCP_SIDECAR_${flag.toUpperCase().replace(/-/g, '_')}`;

/** What a command says about a mistake, and whether it runs a command given after `--`. */
export interface Usage {
  /** Follows "unknown option --x; ". */
  unknownHint: string;
  /** Follows 'unexpected argument "x": '. */
  strayHint: string;
  takesCommand: boolean;
}

export interface Parsed<S extends Options> {
  values: Values<S>;
  /** Everything after `--`. */
  command: string[];
}

type Env = Record<string, string | undefined>;

export function parseOptions<S extends Options>(options: S, argv: string[], env: Env, usage: Usage): Parsed<S> {
  const given = new Map<string, string[]>();
  let command: string[] = [];
  for (const token of tokensOf(options, argv)) {
    if (token.kind === 'option-terminator') {
      command = argv.slice(token.index + 1);
      if (command.length > 0 && !usage.takesCommand) throw stray(command[0], usage);
      break;
    }
    if (token.kind === 'positional') throw stray(token.value, usage);
    const [key, option, negated] = lookup(options, token.name) ?? [];
    if (!key || !option) throw new ConfigError(`unknown option ${token.rawName}; ${usage.unknownHint}`);
    given.set(key, [...(given.get(key) ?? []), ...textsOf(option, token, negated!)]);
  }
  const values: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(options)) {
    const fromFlags = given.get(key);
    const fromEnv = fromFlags ? undefined : environment(option, env);
    const source = fromEnv ? fromEnv.source : `--${option.flag}`;
    const texts = fromFlags ?? fromEnv?.texts ?? (option.default !== undefined ? [option.default] : []);
    values[key] = option.read(texts, source);
  }
  return { values: values as Values<S>, command };
}

function stray(arg: string, usage: Usage): ConfigError {
  return new ConfigError(`unexpected argument "${arg}": ${usage.strayHint}`);
}

function tokensOf(options: Options, argv: string[]) {
  // Non-strict, so that unknown options and missing values reach the messages below instead of Node's own.
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const option of Object.values(options)) {
    const type = option.takes === 'switch' ? 'boolean' : 'string';
    config[option.flag] = { type, multiple: true, ...(option.short ? { short: option.short } : {}) };
    if (option.takes === 'switch') config[`no-${option.flag}`] = { type: 'boolean', multiple: true };
  }
  return parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true }).tokens;
}

/** The option a parsed name stands for, and whether it was the `--no-` form of a switch. */
function lookup(options: Options, name: string): [string, Option<unknown>, boolean] | undefined {
  for (const [key, option] of Object.entries(options)) {
    if (option.flag === name) return [key, option, false];
    if (option.takes === 'switch' && `no-${option.flag}` === name) return [key, option, true];
  }
  return undefined;
}

interface OptionToken {
  rawName: string;
  value?: string;
  inlineValue?: boolean;
}

function textsOf(option: Option<unknown>, token: OptionToken, negated: boolean): string[] {
  if (option.takes === 'switch') {
    if (negated && token.value !== undefined) throw new ConfigError(`${token.rawName} takes no value`);
    return [negated ? 'false' : (token.value ?? 'true')];
  }
  // parseArgs hands a string option the next argument whatever it is: `--name --port 1` would name the
  // server "--port". A value that looks like a flag is a forgotten value.
  if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
    throw new ConfigError(`${token.rawName} needs a value${option.arg ? ` (${option.arg})` : ''}`);
  }
  return option.takes === 'list' && option.split ? items(token.value, token.rawName) : [token.value];
}

/** A comma list; an empty item is a mistake (lists that pair by position would pair wrongly). */
function items(text: string, source: string): string[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) {
    throw new ConfigError(`${source} "${text}": empty item in the list; remove the extra comma`);
  }
  return parts;
}

function environment(option: Option<unknown>, env: Env): { texts: string[]; source: string } | undefined {
  for (const name of [envName(option.flag), option.env]) {
    const text = name ? env[name] : undefined;
    if (name && text !== undefined && text !== '') {
      return { texts: option.takes === 'list' ? items(text, name) : [text], source: name };
    }
  }
  return undefined;
}
