/**
 * The values of revision 2026-07-28's mirrored headers (`Mcp-Name`, `Mcp-Param-{name}`) read as the transport
 * page's Value Encoding writes them: plain header-safe text, or `=?base64?…?=` holding UTF-8; integers as decimal
 * text, booleans as `true`/`false`. Strict on purpose: a gateway routes on the header, the server acts on the body,
 * and any reading of the header that a gateway would not share lets the two act on different requests.
 */
import { isUtf8 } from 'node:buffer';

/** Visible ASCII, space and tab: what a header value may hold (RFC 9110 §5.5). */
const SAFE_VALUE = /^[\x20-\x7e\t]*$/;
export const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';

/** Why a header value cannot be read, as the end of a sentence that begins with the header's name. */
export class Unreadable {
  constructor(readonly why: string) {}
}

/** Whether a value may be compared as it is: header-safe, and neither a sentinel nor a joined repeat (`a, b`). */
export function isPlainValue(value: string): boolean {
  return value.charCodeAt(0) !== 61 /* = */ && !value.includes(',') && SAFE_VALUE.test(value);
}

/**
 * A header value, decoded from the Base64 sentinel form (markers exactly `=?base64?` and `?=`); Unreadable when it
 * holds characters a header may not or its sentinel is not strict Base64. Node's own decoder skips what is not
 * Base64 and stops at the first `=`: `ZW#Nobw`, `ZWNobw==AAAA` and `ZWNob3` would all read as "echo".
 */
export function decodeHeaderValue(value: string): string | Unreadable {
  if (!SAFE_VALUE.test(value)) return new Unreadable('holds characters a header may not; use the =?base64?…?= form');
  if (!value.startsWith(SENTINEL_PREFIX) || !value.endsWith(SENTINEL_SUFFIX)) return value;
  if (value.length < SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length)
    return new Unreadable('is an incomplete =?base64?…?= sentinel');
  return fromBase64(value.slice(SENTINEL_PREFIX.length, -SENTINEL_SUFFIX.length));
}

/** Strict Base64 (RFC 4648 §4: its alphabet, groups of four with `=` padding, canonical) holding UTF-8 text. */
function fromBase64(text: string): string | Unreadable {
  const stray = /[^A-Za-z0-9+/=]/.exec(text);
  if (stray)
    return new Unreadable(
      `has ${JSON.stringify(stray[0])} in its =?base64?…?= sentinel, which is not a Base64 character (A-Z a-z 0-9 + /, and = to pad)`,
    );
  if (text.length % 4 !== 0)
    return new Unreadable(
      `has ${text.length} characters in its =?base64?…?= sentinel: Base64 comes in groups of four, the last padded with "="`,
    );
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    return new Unreadable('has "=" inside the Base64 of its =?base64?…?= sentinel: padding may only end it');
  const bytes = Buffer.from(text, 'base64');
  const canonical = bytes.toString('base64');
  if (canonical !== text)
    return new Unreadable(
      `has non-canonical Base64 in its =?base64?…?= sentinel: the last character sets bits that encode nothing (canonical: ${canonical})`,
    );
  if (!isUtf8(bytes)) return new Unreadable('has Base64 in its =?base64?…?= sentinel that is not UTF-8 text');
  return bytes.toString('utf8');
}

/** Decimal text as the revision encodes an integer; a fraction of zeros is allowed (`42.0` equals `42`). */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Whether a decoded header says the body's value, by the declared type of its parameter. An integer is compared
 * numerically as the transport page's Server Validation note asks (`42.0` and `42` are equal), and exactly: decimal
 * digits only (no `0x10`, no `1.6e1`), and no digit lost to floating point: an unsafe integer matches nothing.
 */
export function sameValue(decoded: string, value: unknown, type: string): boolean {
  if (typeof value === 'string') return decoded === value;
  if (typeof value === 'boolean') return decoded === (value ? 'true' : 'false');
  if (typeof value !== 'number') return false;
  if (type !== 'integer' || !Number.isInteger(value)) return decoded === String(value);
  if (!Number.isSafeInteger(value)) return false;
  if (decoded === String(value)) return true;
  const m = DECIMAL.exec(decoded);
  if (!m || (m[3] !== undefined && !/^0+$/.test(m[3]))) return false;
  const digits = m[2].replace(/^0+(?=\d)/, '');
  return digits === String(Math.abs(value)) && (value === 0 || (m[1] === '-') === value < 0);
}
