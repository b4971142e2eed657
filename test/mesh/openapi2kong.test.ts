/**
 * From the OpenAPI document to Kong's own tooling: `deck file openapi2kong` on the document `mcp-sidecar openapi`
 * prints for server-everything (the same document as GET /openapi.json) yields a decK file that `deck file
 * validate` accepts, with a route per tool and the sidecar as the service's address.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { deckBinary, deckFile, deckValidate } from '../support/deck.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  everythingCommand,
  filesystemCommand,
  fixtureCommand,
  memoryCommand,
  sidecarMain,
} from '../support/sidecar-process.js';

const run = promisify(execFile);

describe('deck file openapi2kong on the OpenAPI document', () => {
  let deck: string;
  before(async () => {
    deck = await deckBinary();
  });

  const dir = mkdtempSync(join(tmpdir(), 'openapi2kong-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const servers: Array<[string, string[]]> = [
    ['everything', everythingCommand()],
    ['filesystem', filesystemCommand(dir)],
    ['memory', ['--env', `MEMORY_FILE_PATH=${join(dir, 'memory.jsonl')}`, '--', ...memoryCommand()]],
    ['conformance', fixtureCommand('conformance-server')],
  ];

  for (const [name, command] of servers)
    test(`${name}: openapi2kong converts the document, deck file validate accepts the result`, async () => {
      const args = command[0] === '--env' ? command : ['--', ...command];
      const { stdout } = await run(process.execPath, [sidecarMain, 'openapi', '--advertise', `${name}:8080`, ...args], {
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      const doc = JSON.parse(stdout);
      const converted = await deckFile(deck, ['openapi2kong', '--analytics=false', '-s'], stdout, {
        name: 'openapi.json',
      });
      assert.equal(converted.code, 0, converted.output);
      const state = parse(converted.stdout);
      const routes = state.services.flatMap((s: { routes: Array<{ paths: string[]; methods: string[] }> }) => s.routes);
      assert.equal(routes.length, Object.keys(doc.paths).length, 'a route per tool');
      const first = Object.keys(doc.paths)[0];
      assert.ok(
        routes.some((r: { paths: string[] }) => r.paths[0].includes(first)),
        first,
      );
      assert.deepEqual(
        state.services.map((svc: { host: string; port: number }) => `${svc.host}:${svc.port}`),
        [`${name}:8080`],
        'the sidecar, as --advertise says, is what the service calls',
      );
      const validated = await deckValidate(deck, converted.stdout);
      assert.equal(validated.code, 0, `deck file validate rejected openapi2kong's output:\n${validated.output}`);
    });
});
