/**
 * A server that announces tools/list_changed in a burst: the sidecar re-reads the list one request at a time and
 * once more for whatever came meanwhile, not once per notification (which also let an older list land last).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launch, rest, sleep } from '../support/harness.js';
import { fixtureCommand } from '../support/sidecar-process.js';

test('1,000 tools/list_changed in a burst cost a few tools/list re-reads, not 1,000', async (t) => {
  const sidecar = await launch(t, ['--', ...fixtureCommand('list-flood')]);
  const lists = async () => Number((await rest(sidecar.url, 'lists', {})).body.content[0].text);
  const before = await lists();
  assert.equal((await rest(sidecar.url, 'flood', { count: 1000 })).status, 200);
  await sleep(1500);
  const reads = (await lists()) - before;
  assert.ok(reads >= 1 && reads <= 3, `${reads} tools/list re-reads for one burst`);
  // A later change is still read.
  assert.equal((await rest(sidecar.url, 'flood', { count: 1 })).status, 200);
  await sleep(500);
  assert.ok((await lists()) - before > reads, 'a later list_changed is re-read too');
});
