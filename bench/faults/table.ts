/** The fault table (markdown), with each row's notes below it: what came back where the issue prescribes otherwise. */
import type { FaultRow } from './fault-run.js';

const HEADER = [
  'fault',
  'requests ok',
  'failed',
  'hung',
  'sidecar exits',
  'orphan processes',
  'phantom registrations',
  'peak RSS (MB)',
];

const n = (value: number) => value.toLocaleString('en-US');

export function renderTable(rows: FaultRow[], titles: Map<string, string>): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${titles.get(r.fault) ?? r.fault} | ${n(r.ok)} | ${n(r.failed)} | ${n(r.hung)} | ${r.sidecarExits} | ${r.orphans} | ${r.phantoms} | ${Math.round(r.peakRssMb)} |`,
    );
  }
  const notes = rows.filter((r) => r.notes.length > 0);
  if (notes.length > 0) {
    lines.push('', 'Notes (what each row saw; "must" is what issue 9 prescribes):', '');
    for (const r of notes) {
      lines.push(`- **${r.fault}**${r.probesWrong > 0 ? ` (${r.probesWrong} probe answers wrong)` : ''}:`);
      for (const note of r.notes) lines.push(`  - ${note.replace(/\n/g, ' ')}`);
    }
  }
  return lines.join('\n');
}
