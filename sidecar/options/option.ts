/**
 * One option: how it is written (flag, placeholder, default, environment name, help) and how the text given
 * for it becomes a typed value. A table of options is a plain object; `Values<typeof table>` is the type of
 * what parsing it yields, so a field cannot be added to the table and forgotten in the type, or typed
 * differently from how it is parsed.
 */
import {
  checkName,
  checkRoutePath,
  parseBool,
  parseBytes,
  parseChoice,
  parseDuration,
  parseHostPort,
  parsePort,
  parseWholeNumber,
  type HostPort,
} from './validate.js';

export interface Option<T> {
  readonly flag: string;
  readonly help: string;
  /** Placeholder in --help (`--port <n>`); switches take no value and have none. */
  readonly arg?: string;
  /** Written as an operator would write it (`4mb`, `10s`) and parsed like any other value. */
  readonly default?: string;
  /** The ecosystem's own environment name (CONSUL_HTTP_ADDR), read after MCP_SIDECAR_<FLAG>. */
  readonly env?: string;
  readonly short?: string;
  /** A switch takes no value (and has --no-<flag>); a list collects every value given. */
  readonly takes: 'value' | 'switch' | 'list';
  /** List: a value given on the command line is also split at commas (the environment always is). */
  readonly split?: boolean;
  /** Every text given for the option, in order, to its value; `source` names where they came from. */
  readonly read: (texts: string[], source: string) => T;
}

export type Options = Record<string, Option<unknown>>;

export type Values<S extends Options> = { -readonly [K in keyof S]: S[K] extends Option<infer T> ? T : never };

interface Spec {
  flag: string;
  help: string;
  arg?: string;
  env?: string;
  short?: string;
}

/** A scalar option: the last value given wins; without a default it may be undefined. */
interface Scalar<T, Extra> {
  (spec: Spec & Extra & { default: string }): Option<T>;
  (spec: Spec & Extra): Option<T | undefined>;
}

function scalar<T, Extra = object>(convert: (text: string, source: string, spec: Extra) => T): Scalar<T, Extra> {
  return ((spec: Spec & Extra) => ({
    ...spec,
    takes: 'value',
    read: (texts: string[], source: string) =>
      texts.length === 0 ? undefined : convert(texts[texts.length - 1], source, spec),
  })) as Scalar<T, Extra>;
}

export const text = scalar((t) => t);
export const serviceName = scalar(checkName);
export const routePath = scalar(checkRoutePath);
export const int = scalar<number, { min?: number }>((t, source, { min }) => parseWholeNumber(t, source, min));
export const port = scalar((t, source) => parsePort(t, source));
export const duration = scalar(parseDuration);
export const bytes = scalar(parseBytes);
export const hostPort = scalar<HostPort>(parseHostPort);

/** One of a few words; without a default it may be undefined (the sidecar then decides, e.g. --auth). */
export function choice<const V extends string>(spec: Spec & { values: readonly V[]; default: V }): Option<V>;
export function choice<const V extends string>(spec: Spec & { values: readonly V[] }): Option<V | undefined>;
export function choice<const V extends string>(spec: Spec & { values: readonly V[]; default?: V }): Option<unknown> {
  return {
    ...spec,
    takes: 'value',
    read: (texts, source) =>
      texts.length === 0 ? undefined : parseChoice(texts[texts.length - 1], source, spec.values),
  };
}

/** A switch: `--flag`, `--flag=false`, `--no-flag`; off unless its default says otherwise. */
export function toggle(spec: Spec & { default?: 'true' | 'false' }): Option<boolean> {
  return {
    default: 'false',
    ...spec,
    takes: 'switch',
    read: (texts, source) => parseBool(texts[texts.length - 1], source),
  };
}

/** A repeatable option: every value given, in order, each checked (and typed) by `item` if it has one. */
export function list(spec: Spec & { split?: boolean }): Option<string[]>;
export function list<T>(spec: Spec & { split?: boolean; item: (text: string, source: string) => T }): Option<T[]>;
export function list<T>(
  spec: Spec & { split?: boolean; item?: (text: string, source: string) => T },
): Option<unknown[]> {
  const { item } = spec;
  return { ...spec, takes: 'list', read: (texts, source) => (item ? texts.map((t) => item(t, source)) : texts) };
}
