/** Reads a request body under a byte limit and parses it as JSON, with errors that say what to change. */
import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return (await readJsonText(req, limitBytes)).value;
}

/** The parsed body and its text (the text tells integer ids beyond 2^53 exactly; see jsonrpc.ts keepBigIds). */
export async function readJsonText(req: IncomingMessage, limitBytes: number): Promise<{ value: unknown; text: string }> {
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) {
    req.resume(); // drain so the connection can be reused
    throw new BodyError(413, `request body is ${declared} bytes, over the limit of ${limitBytes} bytes (--max-body)`);
  }
  const text = await readText(req, limitBytes);
  if (text.trim() === '') return { value: undefined, text };
  try {
    return { value: JSON.parse(text), text };
  } catch (err) {
    throw new BodyError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Plain 'data'/'end' listeners: an async iterator per request costs more than the small bodies MCP sends. */
function readText(req: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.off('data', onData);
        req.resume();
        reject(new BodyError(413, `request body is over the limit of ${limitBytes} bytes (--max-body)`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('aborted', () => reject(new BodyError(400, 'the client closed the connection before the request body ended')));
  });
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type === undefined || type.toLowerCase().startsWith('application/json');
}
