/**
 * Issue 9, defect 6: a GET stream whose client never reads, while the server floods notifications (5,000 × 64 KB
 * in the full run). The sidecar must bound what it holds for the stream (--stream-buffer) and close it past that.
 */
import { fixtureCommand, McpHttpClient } from '../../../test/support/sidecar-process.js';
import { sleep, underLoad, type FaultScenario } from '../fault-run.js';
import { endsWithin, rawConnection } from '../probes.js';

export const sseNoRead: FaultScenario = {
  id: 'sse-no-read',
  title: 'SSE GET stream that never reads while the server floods notifications',
  quick: true,
  run: (env) =>
    underLoad(
      env,
      { id: 'sse-no-read', command: fixtureCommand('fault-tools'), args: ['--stream-buffer', '1mb'] },
      async (run) => {
        const count = env.settings.quick ? 1500 : 5000;
        const client = new McpHttpClient(run.url);
        await client.initialize();
        const { host } = new URL(run.url);
        const socket = await rawConnection(
          run.url,
          `GET /mcp HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${client.sessionId}\r\nMcp-Protocol-Version: ${client.protocolVersion}\r\n\r\n`,
        );
        await sleep(200);
        await client.request('tools/call', { name: 'flood', arguments: { count, bytes: 65_536 } });
        // the server writes as fast as the sidecar reads its stdout; wait until it has written them all
        const deadline = Date.now() + 60_000;
        let written = 0;
        while (written < count && Date.now() < deadline && run.running) {
          await sleep(250);
          const r = await client.request('tools/call', { name: 'flooded', arguments: {} }).catch(() => undefined);
          written = Number(r?.result?.content?.[0]?.text ?? written);
        }
        run.note(`the server wrote ${written} of ${count} notifications of 64 KB`);
        await run.probe(
          'GET stream that never reads',
          async () => String(await endsWithin(socket, 2000)),
          (ended) =>
            ended === 'true' ? undefined : 'still open after the flood (must be closed past --stream-buffer)',
        );
        await client.close().catch(() => 0);
      },
    ),
};
