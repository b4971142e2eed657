/**
 * Slow readers: 10 REST clients each ask for a 2 MB answer and read it at 64 KB per 100 ms. Their answers must
 * arrive whole, the sidecar's memory must stay bounded, and the other clients must not notice.
 */
import { fixtureCommand } from '../../../test/support/sidecar-process.js';
import { underLoad, type FaultScenario } from '../fault-run.js';
import { rawConnection } from '../probes.js';

const BYTES = 2_000_000;

/** Reads the whole answer slowly (the connection closes after it); resolves with the bytes read. */
async function readSlowly(url: string, signal: AbortSignal): Promise<string> {
  const { host } = new URL(url);
  const body = JSON.stringify({ bytes: BYTES });
  const socket = await rawConnection(
    url,
    `POST /tools/huge HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  let received = 0;
  let head = '';
  signal.addEventListener('abort', () => socket.destroy(), { once: true });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // 640 bytes per ms: each chunk is followed by the pause its size is worth
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (head.length < 12) head += chunk.toString('latin1', 0, 12);
    socket.pause();
    setTimeout(() => socket.resume(), chunk.length / 640);
  });
  socket.resume();
  await closed;
  if (signal.aborted) throw Object.assign(new Error('no whole answer in time'), { name: 'TimeoutError' });
  return `${head.slice(9, 12)} ${received}`;
}

export const slowReaders: FaultScenario = {
  id: 'slow-readers',
  title: 'slow readers: 10 clients read 2 MB answers at 640 KB/s',
  quick: false,
  run: (env) =>
    underLoad(env, { id: 'slow-readers', command: fixtureCommand('huge') }, async (run) => {
      await Promise.all(
        Array.from({ length: 10 }, () =>
          run.probe(
            'slow reader of a 2 MB answer',
            (signal) => readSlowly(run.url, signal),
            (a) => {
              const [status, bytes] = a.split(' ');
              return status === '200' && Number(bytes) > BYTES
                ? undefined
                : `got HTTP ${status} and ${bytes} bytes (must be 200 and the whole answer)`;
            },
          ),
        ),
      );
    }),
};
