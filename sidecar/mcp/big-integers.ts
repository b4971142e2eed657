/**
 * Client values the sidecar gives back exactly as they came: a request's id, its progress token (which the
 * server sees replaced by the child-side id), and the requestId of a cancellation that must find that request.
 *
 * An integer beyond 2^53 loses digits in JSON.parse. Such a value travels through the sidecar as a marked string
 * holding the digits of the request text (INTEGER + digits), and goes back out as that bare number, but only where
 * the sidecar itself writes a client's value into a message for the client: a message's id, the token of a
 * `notifications/progress`, the subscription id of a listen stream. What a client or a server wrote anywhere
 * else is serialized as it is, whatever it holds.
 *
 * The marks are strings, and a client may send any string: one that starts like a mark is itself marked (STRING
 * + the string) on the way in, and given back as it came. So no client string is ever taken for a mark, and a
 * big integer and a string that spells its mark stay two ids (idKey).
 */
import type { RequestId } from './jsonrpc.js';
import { META } from './modern.js';

const MARK = '\u0000mcp-sidecar:';
const INTEGER = `${MARK}integer:`;
const STRING = `${MARK}string:`;

type Holder = Record<string, unknown>;

function isObject(value: unknown): value is Holder {
  return typeof value === 'object' && value !== null;
}

/** The keys of the client values kept, each found in its own holder (holderOf). */
const PLACES = ['id', 'progressToken', 'requestId'] as const;
type Place = (typeof PLACES)[number];

/** The object of a client message that holds `place`; undefined when the message has none there. */
function holderOf(message: Holder, place: Place): Holder | undefined {
  if (place === 'id') return message;
  const params = message.params;
  if (!isObject(params)) return undefined;
  if (place === 'requestId') return message.method === 'notifications/cancelled' ? params : undefined;
  // A request's progress token: the one the sidecar replaces, and puts back on the server's progress.
  const meta = params._meta;
  return message.id !== undefined && typeof message.method === 'string' && isObject(meta) ? meta : undefined;
}

/** Marks a client string that starts like a mark; true for a number JSON.parse could not hold exactly. */
function keep(holder: Holder, place: Place): boolean {
  const value = holder[place];
  if (typeof value === 'number') return !Number.isSafeInteger(value);
  if (typeof value === 'string' && value.charCodeAt(0) === 0 && value.startsWith(MARK)) holder[place] = STRING + value;
  return false;
}

/**
 * Marks the kept values of each top-level message of a parsed request body (one message, or a batch's items),
 * `text` being the body they were parsed from. Costs a few property reads when nothing needs marking; only a
 * body with an unsafe number in a kept place is scanned, for its digits.
 */
export function keepBigIntegers(messages: unknown[], text: string): void {
  // (Loops, not `some` or `forEach`: every POST passes here, and a closure per request is garbage for nothing.)
  let big = false;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (!isObject(message)) continue;
    // The usual message (a safe id, a plain token if any) costs these few reads, and a look at its places only
    // when one of them holds something odd.
    const params = message.params as Holder | null | undefined;
    const meta = params?._meta as Holder | null | undefined;
    if (!odd(message.id) && !odd(meta?.progressToken) && !odd(params?.requestId)) continue;
    for (let p = 0; p < PLACES.length; p++) {
      const holder = holderOf(message, PLACES[p]);
      if (holder && keep(holder, PLACES[p])) big = true;
    }
  }
  if (big) keepDigits(messages, text);
}

/** A number JSON.parse could not hold exactly, or a string that may start like a mark. */
function odd(value: unknown): boolean {
  return typeof value === 'number' ? !Number.isSafeInteger(value) : mayBeMark(value);
}

/**
 * Puts the marks of the unsafe integers in kept places, with the digits of the text (elsewhere, e.g. in a tool's
 * arguments, the server gets what JSON.parse made of a number, as before).
 */
function keepDigits(messages: unknown[], text: string): void {
  const tokens = integerTokens(text);
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    const found = tokens[i];
    if (!isObject(message) || !found) continue;
    for (const place of PLACES) {
      const holder = holderOf(message, place);
      const value = holder?.[place];
      const digits = found[place];
      if (digits !== undefined && typeof value === 'number' && !Number.isSafeInteger(value) && Number(digits) === value)
        holder![place] = INTEGER + digits;
    }
  }
}

const [QUOTE, BACKSLASH, COMMA] = [34, 92, 44];
const [OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY] = [123, 125, 91, 93];
/** After a string: the colon that makes it a key. */
const COLON = /\s*:/y;
/** After a key's colon: an integer value, whole (not 1.5, not 1e20). */
const INTEGER_VALUE = /\s*(-?\d+)\s*[,}]/y;

/**
 * The digits of the integers in the places kept, by message (the body, or each item of a batch): a scanner that
 * follows strings, nesting and the keys on the way to the places, and nothing else. Linear in the text.
 */
function integerTokens(text: string): Array<Partial<Record<Place, string>>> {
  const found: Array<Partial<Record<Place, string>>> = [];
  const top = text.trimStart().startsWith('[') ? 2 : 1; // the depth of a message's own members
  const keys: (string | undefined)[] = []; // the key last seen at each depth: the path to where the scan is
  let depth = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) {
        if (text.charCodeAt(i) !== BACKSLASH) continue;
        escaped = true;
        i++; // the escaped character, which may be a quote
      }
      const level = depth - top;
      COLON.lastIndex = i + 1;
      if (level < 0 || level > 2 || !COLON.test(text)) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      keys[depth] = key;
      const place = placeAt(keys, top, level, key);
      INTEGER_VALUE.lastIndex = COLON.lastIndex;
      const integer = place && INTEGER_VALUE.exec(text);
      if (integer) (found[index] ??= {})[place] = integer[1];
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) keys[++depth] = undefined;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else if (c === COMMA && depth === 1 && top === 2) index++; // between the items of a batch
  }
  return found;
}

/** The place a key at `level` below a message's members names, given the keys on the way there. */
function placeAt(keys: (string | undefined)[], top: number, level: number, key: string): Place | undefined {
  if (level === 0) return key === 'id' ? key : undefined;
  if (keys[top] !== 'params') return undefined;
  if (level === 1) return key === 'requestId' ? key : undefined;
  return keys[top + 1] === '_meta' && key === 'progressToken' ? key : undefined;
}

/** Whether a value may be a mark (the cheap check of the hot path; `sent` tells for sure). */
function mayBeMark(value: unknown): boolean {
  return typeof value === 'string' && value.charCodeAt(0) === 0;
}

/** The JSON text the client sent for a marked value; undefined when `value` is not a mark. */
function sent(value: unknown): string | undefined {
  if (!mayBeMark(value)) return undefined;
  const text = value as string;
  if (text.startsWith(STRING)) return JSON.stringify(text.slice(STRING.length));
  const digits = text.startsWith(INTEGER) ? text.slice(INTEGER.length) : '';
  return /^-?\d+$/.test(digits) ? digits : undefined;
}

/** The JSON text of an id as its client sent it (for messages that quote it). */
export function idJson(id: RequestId): string {
  return sent(id) ?? JSON.stringify(id);
}

/** Where a message for a client may hold a marked value: `true` marks a place, an object the places inside. */
interface Places {
  readonly [key: string]: Places | true;
}
const ID: Places = { id: true };
/** A server's progress reaches a client only through its call, which puts the client's token in. */
const PROGRESS: Places = { params: { progressToken: true } };
/** A listen stream tags everything it carries with its request's id. */
const SUBSCRIPTION: Places = { [META.subscriptionId]: true };
const LISTEN: Places = { id: true, params: { _meta: SUBSCRIPTION }, result: { _meta: SUBSCRIPTION } };

/** The places of a message that hold a mark; undefined for nearly every message (JSON.stringify as it is). */
function placesOf(message: unknown): Places | undefined {
  if (!isObject(message)) return undefined;
  if (message.method === 'notifications/progress')
    return mayBeMark((message.params as Holder | undefined)?.progressToken) ? PROGRESS : undefined;
  return mayBeMark(message.id) ? ID : undefined;
}

/** JSON.stringify, with marked values in `places` written as the client sent them. */
function write(value: unknown, places: Places | true): string | undefined {
  if (places === true) return sent(value) ?? JSON.stringify(value);
  if (!isObject(value) || Array.isArray(value)) return JSON.stringify(value);
  let text = '';
  for (const key of Object.keys(value)) {
    const part = Object.hasOwn(places, key) ? write(value[key], places[key]) : JSON.stringify(value[key]);
    if (part !== undefined) text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${part}`;
  }
  return `{${text}}`;
}

/**
 * The JSON text of a message (or a batch of them) for a client, its kept values as the client sent them.
 * `listen`: the id of the listen stream the message goes out on, which it may carry as its subscription id.
 */
export function toJson(value: unknown, listen?: RequestId): string {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (placesOf(value[i])) return `[${value.map(messageJson).join(',')}]`;
    return JSON.stringify(value);
  }
  return mayBeMark(listen) ? write(value, LISTEN)! : messageJson(value);
}

function messageJson(message: unknown): string {
  const places = placesOf(message);
  return (places ? write(message, places) : JSON.stringify(message)) ?? 'null';
}
