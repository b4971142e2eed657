/** The README's configuration table is the option table: a flag added, renamed or re-described cannot drift. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { optionTable } from '../../sidecar/options/help.js';
import { SECTIONS } from '../../sidecar/options/table.js';
import { distRoot } from '../support/sidecar-process.js';

test('README configuration table equals the options table', () => {
  const readme = readFileSync(join(distRoot, '..', 'README.md'), 'utf8');
  const expected = optionTable(SECTIONS).join('\n');
  assert.ok(readme.includes(expected), `README.md must contain this table (under "## Configuration"):\n${expected}`);
});
