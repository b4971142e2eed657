/**
 * How deeply a JSON text nests, found by scanning the text before anything parses or serializes it. JSON.parse
 * copes with any depth, but JSON.stringify and every recursive walk after it do not: a 10 KB request of 5,000
 * nested arrays overflowed the stack later, on the reply path. A linear scan of the text is cheap next to the
 * parse itself, and a text shorter than 2 × limit characters cannot nest past the limit, so small messages
 * (most of them) skip the scan entirely.
 */

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `text` (JSON or not) opens more than `limit` objects/arrays inside one another. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= 2 * limit) return false;
  if (opensAtMost(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/**
 * Whether `text` holds at most `limit` brackets that open (in strings or not): then it cannot nest past `limit`.
 * indexOf is a native search, several times faster than the character loop below: a 2026-07-28 request (~300
 * characters of `_meta` and arguments, six or seven brackets) is cleared by it without the loop, which had been
 * 2.5% of the sidecar's CPU on that path.
 */
function opensAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > limit) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > limit) return false;
  return true;
}

/**
 * The deepest nesting the sidecar relays from a server. Deeper than any real result, and far below where
 * serializing it again (JSON.stringify recurses) could run out of stack inside the stdout handler.
 */
export const MAX_SERVER_MESSAGE_DEPTH = 1000;

/** Why a server reply over --max-message is not relayed (its call fails with this). */
export const tooLarge = (bytes: number, limit: number) =>
  `the MCP server's reply was ${bytes} bytes, over the sidecar's --max-message limit of ${limit} bytes; raise --max-message or ask for less`;
/** Why a server reply nesting past MAX_SERVER_MESSAGE_DEPTH is not relayed. */
export const TOO_DEEP = `the MCP server's reply nests deeper than ${MAX_SERVER_MESSAGE_DEPTH} levels, more than the sidecar relays; the tool must return flatter data`;
